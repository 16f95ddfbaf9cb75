import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsInt, IsObject, IsOptional, IsString, IsUrl, Length, Matches, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { CONTEXT_KEY_PATTERN } from './context-key';
import { IsRenderActions, RenderActionBaseDto, RenderActionDto } from './render-action.dto';
import { IsStorageState, RenderArtifactsDto, RenderTimeoutsDto, StorageStateDto } from './render-options.dto';
import { RenderProxyDto } from './render-proxy.dto';

/** The longest URL either side takes (the API checks it first, with the same limit). */
export const URL_MAX_LENGTH = 8192;

/** `POST /render` body (riptide-headless field names, plus context_key and storage_state). */
export class RenderRequestDto {
  @ApiProperty({ example: 'https://example.com/' })
  @IsUrl(
    // validator's own 2083-character limit would disagree with URL_MAX_LENGTH.
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false, validate_length: false },
    { message: 'url must be an http or https URL' },
  )
  @MaxLength(URL_MAX_LENGTH)
  url: string;

  /** The session incarnation's browser context (see contextKey); absent = a throwaway context. */
  @ApiPropertyOptional({ description: "render in this context's warm browser context" })
  @IsOptional()
  @Matches(CONTEXT_KEY_PATTERN, { message: 'context_key must be 64 lowercase hex characters' })
  context_key?: string;

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
  @IsStorageState()
  storage_state?: StorageStateDto;

  /** The caller's queue (see queueKey): waiting renders are served across queues in turn. */
  @ApiPropertyOptional({ description: 'fair-queueing key: renders waiting for a slot are served across keys in turn' })
  @IsOptional()
  @Matches(CONTEXT_KEY_PATTERN, { message: 'queue_key must be 64 lowercase hex characters' })
  queue_key?: string;

  /** The order number of storage_state; the context's snapshots are numbered on from it. */
  @ApiPropertyOptional({ minimum: 0 })
  @IsOptional()
  @IsInt()
  @Min(0)
  state_seq?: number;

  /**
   * The caller holds a saved state numbered state_seq but left it out (see withStateLeftOut):
   * render only in the warm context of context_key, which has no use for it; without one,
   * answer `state_required` before running anything, and the caller sends it again with
   * storage_state. Needs context_key and a positive state_seq, and excludes storage_state.
   */
  @ApiPropertyOptional({ description: 'storage_state left out: render only in a warm context, else 409 state_required' })
  @IsOptional()
  @IsBoolean()
  state_omitted?: boolean;

  /** Chain this render's traffic through this upstream proxy; absent: RENDER_UPSTREAM_PROXY, or none. */
  @ApiPropertyOptional({ type: () => RenderProxyDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => RenderProxyDto)
  proxy?: RenderProxyDto;
}
