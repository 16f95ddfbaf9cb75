import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { SatisfiesRule } from '../../common/problem-rule';
import { PROXY_CREDENTIAL_MAX_LENGTH } from '../session';

const PROXY_SCHEMES = new Set(['http:', 'https:', 'socks5:']);
const PROXY_SERVER_MAX_LENGTH = 2048;

/**
 * Why a proxy server is not `scheme://host:port`, or null. Credentials in the URL are refused:
 * they belong in username/password, where the password is never shown back.
 */
export function proxyServerProblem(value: unknown): string | null {
  const expected = 'must be an http://, https:// or socks5:// URL of the form scheme://host:port';
  if (typeof value !== 'string' || value.length > PROXY_SERVER_MAX_LENGTH) return expected;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return expected;
  }
  if (!PROXY_SCHEMES.has(url.protocol) || url.hostname === '' || url.port === '') return expected;
  if (url.username !== '' || url.password !== '') return 'must not carry credentials (use username and password)';
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') return expected;
  return null;
}

/** A session's upstream proxy (Playwright's shape). The password is write-only. */
export class ProxyDto {
  @ApiProperty({ example: 'http://proxy.example:3128', description: 'http://, https:// or socks5:// host:port' })
  @SatisfiesRule('isProxyServer', proxyServerProblem)
  server!: string;

  @ApiPropertyOptional({ maxLength: PROXY_CREDENTIAL_MAX_LENGTH })
  @IsOptional()
  @IsString()
  @MaxLength(PROXY_CREDENTIAL_MAX_LENGTH)
  username?: string;

  @ApiPropertyOptional({ maxLength: PROXY_CREDENTIAL_MAX_LENGTH, writeOnly: true, description: 'never returned' })
  @IsOptional()
  @IsString()
  @MaxLength(PROXY_CREDENTIAL_MAX_LENGTH)
  password?: string;
}
