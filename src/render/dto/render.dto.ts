import { ApiProperty, ApiPropertyOptional, OmitType } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { RenderRequestDto, URL_MAX_LENGTH } from '../../renderer-rpc';
import { SESSION_ID_PATTERN } from '../../session/session';

/**
 * POST /v1/render: the renderer's request with a session id instead of a context key, and
 * without storage_state and proxy (the API supplies both from the session). The url is only required to be
 * a string here: its scheme and address are judged by the URL policy, which answers 422 rather
 * than 400 for a refused one.
 */
export class RenderDto extends OmitType(RenderRequestDto, [
  'url',
  'context_key',
  'queue_key',
  'storage_state',
  'state_seq',
  'proxy',
] as const) {
  @ApiProperty({ example: 'https://example.com/' })
  @IsString()
  @MaxLength(URL_MAX_LENGTH)
  url: string;

  @ApiPropertyOptional({ description: 'render in this session; created with defaults if it does not exist' })
  @IsOptional()
  @Matches(SESSION_ID_PATTERN, { message: 'session_id must be 1-128 characters of [A-Za-z0-9._:-]' })
  session_id?: string;
}
