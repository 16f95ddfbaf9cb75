import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { plainToInstance, Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsObject, IsInt, IsOptional, IsString, Length, Max, Min, ValidateNested } from 'class-validator';

export const ACTION_TYPES = ['wait_for_css', 'wait_for_js', 'scroll', 'js', 'click', 'type'] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

export const MAX_ACTIONS = 100;
/** Upper bound on any client-supplied duration; the render's hard cap applies on top. */
export const MAX_DURATION_MS = 600_000;
const MAX_SELECTOR = 4096;
const MAX_SCRIPT = 100_000;

/**
 * Fields every action has. An object whose `type` is not one of ACTION_TYPES is
 * instantiated as this class, so the `type` check is what rejects it.
 */
export class RenderActionBaseDto {
  @ApiProperty({ enum: ACTION_TYPES, description: 'selects the action' })
  @IsIn(ACTION_TYPES)
  type: ActionType;

  /** Per-action limit (default 5000 ms, never beyond the render's remaining hard cap). */
  @ApiPropertyOptional({ description: "this action's time limit (default 5000; the render's hard cap still applies)" })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_DURATION_MS)
  timeout_ms?: number;
}

export class WaitForCssActionDto extends RenderActionBaseDto {
  declare type: 'wait_for_css';
  @ApiProperty({ example: '#main' }) @IsString() @Length(1, MAX_SELECTOR) css: string;
}

export class WaitForJsActionDto extends RenderActionBaseDto {
  declare type: 'wait_for_js';
  @ApiProperty({ description: 'JS expression polled until truthy', example: 'window.ready === true' })
  @IsString()
  @Length(1, MAX_SCRIPT)
  expr: string;
}

export class ScrollActionDto extends RenderActionBaseDto {
  declare type: 'scroll';
  @ApiProperty({ minimum: 1, maximum: 1000 }) @IsInt() @Min(1) @Max(1000) steps: number;
  /** Default: one viewport height. */
  @ApiPropertyOptional({ description: 'default: one viewport height' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000)
  step_px?: number;
  @ApiPropertyOptional({ description: 'pause after each step (default 100)' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(10_000)
  delay_ms?: number;
}

export class JsActionDto extends RenderActionBaseDto {
  declare type: 'js';
  @ApiProperty({ description: 'script run in the page; a resulting promise is awaited' })
  @IsString()
  @Length(1, MAX_SCRIPT)
  code: string;
}

export class ClickActionDto extends RenderActionBaseDto {
  declare type: 'click';
  @ApiProperty({ example: '#main' }) @IsString() @Length(1, MAX_SELECTOR) css: string;
}

export class TypeActionDto extends RenderActionBaseDto {
  declare type: 'type';
  @ApiProperty({ example: '#main' }) @IsString() @Length(1, MAX_SELECTOR) css: string;
  @ApiProperty() @IsString() @Length(0, MAX_SCRIPT) text: string;
  @ApiPropertyOptional({ description: 'delay between key presses' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1000)
  delay_ms?: number;
}

export type RenderActionDto =
  | WaitForCssActionDto
  | WaitForJsActionDto
  | ScrollActionDto
  | JsActionDto
  | ClickActionDto
  | TypeActionDto;

const ACTION_CLASSES: Record<ActionType, new () => RenderActionBaseDto> = {
  wait_for_css: WaitForCssActionDto,
  wait_for_js: WaitForJsActionDto,
  scroll: ScrollActionDto,
  js: JsActionDto,
  click: ClickActionDto,
  type: TypeActionDto,
};

/** The concrete action classes, e.g. for `@ApiExtraModels(...RENDER_ACTION_CLASSES)` to document each shape. */
export const RENDER_ACTION_CLASSES = Object.values(ACTION_CLASSES);

/**
 * Instantiates each tagged object as the class its `type` names (the base class when the
 * type is unknown, which then fails on `type`). This is class-transformer's discriminator
 * done by hand: `@Type({ discriminator })` throws a TypeError on a `null` element, which
 * would turn a bad request into a 500.
 */
function toActionInstances({ value }: { value: unknown }): unknown {
  if (!Array.isArray(value)) return value;
  return value.map((item: unknown) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return item;
    const tag = (item as { type?: unknown }).type;
    const cls = Object.hasOwn(ACTION_CLASSES, String(tag)) ? ACTION_CLASSES[tag as ActionType] : RenderActionBaseDto;
    return plainToInstance(cls, item);
  });
}

/**
 * Validation of an `actions` array of tagged objects; put it on any DTO property that
 * carries render actions (this renderer's and the API's /v1/render).
 */
export function IsRenderActions(): PropertyDecorator {
  return applyDecorators(
    IsArray(),
    ArrayMaxSize(MAX_ACTIONS),
    IsObject({ each: true, message: 'each value in actions must be an action object' }),
    ValidateNested({ each: true }),
    Transform(toActionInstances),
  );
}
