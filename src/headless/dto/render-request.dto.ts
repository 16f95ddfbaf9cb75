import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsObject, IsOptional, IsString, IsUrl, Length, Matches, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { SESSION_ID_PATTERN } from '../../session/session';
import { IsRenderActions, RenderActionBaseDto, RenderActionDto } from './render-action.dto';
import { RenderArtifactsDto, RenderTimeoutsDto, StorageStateDto } from './render-options.dto';


/** `POST /render` body (riptide-headless field names, plus `storage_state`). */
export class RenderRequestDto {
  @ApiProperty({ example: 'https://example.com/' })
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false },
    { message: 'url must be an http or https URL' },
  )
  @MaxLength(8192)
  url: string;

  @ApiPropertyOptional({ description: "render in this session's warm browser context" })
  @IsOptional()
  @Matches(SESSION_ID_PATTERN, { message: 'session_id must be 1-128 characters of [A-Za-z0-9._:-]' })
  session_id?: string;

  @ApiPropertyOptional({ description: 'CSS selector waited for after navigation (up to the hard cap)' })
  @IsOptional()
  @IsString()
  @Length(1, 4096)
  wait_for?: string;

  /** Scroll down one viewport per step, after wait_for and before actions. */
  @ApiPropertyOptional({ minimum: 0, maximum: 1000 }) @IsOptional() @IsInt() @Min(0) @Max(1000) scroll_steps?: number;

  @ApiPropertyOptional({
    type: () => [RenderActionBaseDto],
    description:
      'run in order; tagged by `type`: wait_for_css{css}, wait_for_js{expr}, scroll{steps, step_px?, delay_ms?}, ' +
      'js{code}, click{css}, type{css, text, delay_ms?}; each also takes timeout_ms (default 5000)',
  })
  @IsOptional()
  @IsRenderActions()
  actions?: RenderActionDto[];

  @ApiPropertyOptional({ type: () => RenderTimeoutsDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => RenderTimeoutsDto)
  timeouts?: RenderTimeoutsDto;

  @ApiPropertyOptional({ type: () => RenderArtifactsDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => RenderArtifactsDto)
  artifacts?: RenderArtifactsDto;

  /** Restores cookies/localStorage when this session's context has to be created (cold). */
  @ApiPropertyOptional({ type: () => StorageStateDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => StorageStateDto)
  storage_state?: StorageStateDto;
}
