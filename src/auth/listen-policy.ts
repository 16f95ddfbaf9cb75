import { BlockList, isIP } from 'node:net';
import { AppConfig, ConfigError } from '../config/app-config';
import { ApiKeyRing } from './api-keys';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6'); // also matches ::ffff:127.x.y.z (IPv4-mapped)

/** Loopback only: 127.0.0.0/8, ::1 (any spelling, brackets allowed), IPv4-mapped loopback, `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  const family = isIP(h);
  if (family === 0) return false; // 0.0.0.0 is an IP; any other name may resolve anywhere
  return LOOPBACK.check(h, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * The start-up security decision (DESIGN §5), taken before the app is built. An API without
 * keys is open to whoever reaches it, so it may only listen on loopback: a non-loopback HOST
 * (0.0.0.0, ::, a LAN address, a host name other than localhost) with no API_KEYS is refused,
 * through the same one-line path as any bad config value. Also validates the key list (a
 * key listed twice is refused).
 * Returns the line main.ts logs once listening: how many keys and tenants, never a key.
 * @throws ConfigError
 */
export function checkListenSecurity(config: Pick<AppConfig, 'host' | 'api_keys'>): string {
  const ring = new ApiKeyRing(config.api_keys);
  if (!ring.enabled) {
    if (!isLoopbackHost(config.host)) {
      throw new ConfigError(
        `config error: HOST (host) ${JSON.stringify(config.host)} is not a loopback address and no API_KEYS are configured; ` +
          'an API without keys must not be exposed: set API_KEYS ("key:tenant,...") or HOST=127.0.0.1',
      );
    }
    return `no API keys configured: listening on ${config.host} only, every caller is tenant "default"`;
  }
  const keys = ring.size;
  const tenants = ring.tenants.length;
  return `API keys required: ${keys} key${keys === 1 ? '' : 's'} for ${tenants} tenant${tenants === 1 ? '' : 's'}`;
}
