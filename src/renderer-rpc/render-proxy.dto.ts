import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';

/** Longest proxy username or password on the wire (SOCKS5 carries at most 255 bytes of each). */
export const PROXY_CREDENTIAL_WIRE_MAX = 256;

/**
 * The render's upstream proxy (its session's `proxy`, Playwright's shape). The renderer's egress
 * layer chains the render's traffic through it after the egress policy passed each target; its
 * host must itself pass the policy (or be allow-listed). The password is never logged.
 */
export class RenderProxyDto {
  @ApiProperty({ example: 'http://proxy.example:3128', description: 'http://, https:// or socks5:// host:port' })
  @IsString()
  @MaxLength(2048)
  @Matches(/^(https?|socks5):\/\//i, { message: 'proxy.server must be an http://, https:// or socks5:// URL' })
  server: string;

  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(PROXY_CREDENTIAL_WIRE_MAX) username?: string;

  @ApiPropertyOptional({ writeOnly: true }) @IsOptional() @IsString() @MaxLength(PROXY_CREDENTIAL_WIRE_MAX) password?: string;
}
