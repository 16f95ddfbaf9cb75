import { ApiProperty, ApiPropertyOptional, OmitType } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { RenderRequestDto } from '../../headless/dto';
import { SESSION_ID_PATTERN } from '../../session/session';

/**
 * POST /v1/render: the renderer's request minus storage_state (the API supplies it from the
 * session). The url is only required to be a string here: its scheme and address are judged
 * by the URL policy, which answers 422 rather than 400 for a refused one.
 */
export class RenderDto extends OmitType(RenderRequestDto, ['url', 'session_id', 'storage_state'] as const) {
  @ApiProperty({ example: 'https://example.com/' })
  @IsString()
  @MaxLength(8192)
  url: string;

  @ApiPropertyOptional({ description: 'render in this session; created with defaults if it does not exist' })
  @IsOptional()
  @Matches(SESSION_ID_PATTERN, { message: 'session_id must be 1-128 characters of [A-Za-z0-9._:-]' })
  session_id?: string;
}
