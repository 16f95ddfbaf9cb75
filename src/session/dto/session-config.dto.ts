import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsInt, IsObject, IsOptional, Max, Min, ValidateNested } from 'class-validator';
import { MAX_TTL_SECONDS } from '../session';
import { ProxyDto } from './proxy.dto';

/** The per-session settings a client may choose; shared by create, get-or-create and patch. */
export class SessionConfigDto {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_TTL_SECONDS, description: 'default from SESSION_DEFAULT_TTL_SECONDS' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_TTL_SECONDS)
  ttl_seconds?: number;

  @ApiPropertyOptional({ default: true, description: 'each render/touch extends expires_at to now + ttl' })
  @IsOptional()
  @IsBoolean()
  auto_renew?: boolean;

  @ApiPropertyOptional({ minimum: 0, default: 0, description: '0 = unlimited' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(1_000_000_000)
  max_requests?: number;

  @ApiPropertyOptional({ default: true })
  @IsOptional()
  @IsBoolean()
  track_metrics?: boolean;

  @ApiPropertyOptional({
    type: ProxyDto,
    nullable: true,
    description: "the session's upstream proxy; replaced as a whole, null removes it (PATCH)",
  })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => ProxyDto)
  proxy?: ProxyDto | null;
}
