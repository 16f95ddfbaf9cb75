import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, Matches } from 'class-validator';
import { SESSION_ID_PATTERN } from '../session';
import { IsMetadata } from './metadata.validator';
import { SessionConfigDto } from './session-config.dto';

/** Body of PUT /v1/sessions/:id (the id is in the path). */
export class UpsertSessionDto extends SessionConfigDto {
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' } })
  @IsOptional()
  @IsMetadata(false)
  metadata?: Record<string, string>;
}

/** Body of POST /v1/sessions. */
export class CreateSessionDto extends UpsertSessionDto {
  @ApiPropertyOptional({ pattern: SESSION_ID_PATTERN.source, description: 'generated when absent' })
  @IsOptional()
  @Matches(SESSION_ID_PATTERN, { message: 'session_id must be 1-128 characters of [A-Za-z0-9._:-]' })
  session_id?: string;
}
