import { Type } from 'class-transformer';
import { IsInt, IsObject, IsOptional, IsString, IsUrl, Length, Matches, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { IsRenderActions, RenderActionDto } from './render-action.dto';
import { RenderArtifactsDto, RenderTimeoutsDto, StorageStateDto } from './render-options.dto';

export const SESSION_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** `POST /render` body (riptide-headless field names, plus `storage_state`). */
export class RenderRequestDto {
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false },
    { message: 'url must be an http or https URL' },
  )
  @MaxLength(8192)
  url: string;

  @IsOptional()
  @Matches(SESSION_ID_PATTERN, { message: 'session_id must be 1-128 characters of [A-Za-z0-9._:-]' })
  session_id?: string;

  /** CSS selector waited for after navigation. */
  @IsOptional() @IsString() @Length(1, 4096) wait_for?: string;

  /** Scroll down one viewport per step, after wait_for and before actions. */
  @IsOptional() @IsInt() @Min(0) @Max(1000) scroll_steps?: number;

  @IsOptional() @IsRenderActions() actions?: RenderActionDto[];

  @IsOptional() @IsObject() @ValidateNested() @Type(() => RenderTimeoutsDto) timeouts?: RenderTimeoutsDto;

  @IsOptional() @IsObject() @ValidateNested() @Type(() => RenderArtifactsDto) artifacts?: RenderArtifactsDto;

  /** Restores cookies/localStorage when this session's context has to be created (cold). */
  @IsOptional() @IsObject() @ValidateNested() @Type(() => StorageStateDto) storage_state?: StorageStateDto;
}
