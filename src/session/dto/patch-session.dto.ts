import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { IsMetadata } from './metadata.validator';
import { SessionConfigDto } from './session-config.dto';

/** JSON merge patch (RFC 7396) of a session: a metadata value of null removes that key. */
export class PatchSessionDto extends SessionConfigDto {
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string', nullable: true } })
  @IsOptional()
  @IsMetadata(true)
  metadata?: Record<string, string | null>;
}
