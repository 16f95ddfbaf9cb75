import { BlockList, isIP } from 'node:net';
import type { AppConfig } from '../config/app-config';
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

export interface ListenDecision {
  /** Where to listen: the configured HOST, or 127.0.0.1 when an open API asked for more. */
  host: string;
  /** The line main.ts logs once listening: how many keys and tenants, never a key. */
  line: string;
  /** True when the line is a warning (an open API). */
  open: boolean;
}

/**
 * The start-up security decision (DESIGN §5), taken before the app is built. An API without
 * keys is open to whoever reaches it, so it listens on loopback only: a non-loopback HOST
 * (0.0.0.0, ::, a LAN address, a host name other than localhost) without API_KEYS is not
 * honoured; the API binds 127.0.0.1 and says so, rather than refusing to start. Also
 * validates the key list (a key listed twice is refused).
 * @throws ConfigError (from the key list)
 */
export function decideListen(config: Pick<AppConfig, 'host' | 'api_keys'>): ListenDecision {
  const ring = new ApiKeyRing(config.api_keys);
  if (!ring.enabled) {
    if (!isLoopbackHost(config.host)) {
      return {
        host: '127.0.0.1',
        open: true,
        line:
          `no API keys configured: HOST ${JSON.stringify(config.host)} ignored, listening on 127.0.0.1 only ` +
          '(set API_KEYS="key:tenant,..." to expose the API); every caller is tenant "default"',
      };
    }
    return {
      host: config.host,
      open: true,
      line: `no API keys configured: listening on ${config.host} only, every caller is tenant "default"`,
    };
  }
  const keys = ring.size;
  const tenants = ring.tenants.length;
  return {
    host: config.host,
    open: false,
    line: `API keys required: ${keys} key${keys === 1 ? '' : 's'} for ${tenants} tenant${tenants === 1 ? '' : 's'}`,
  };
}
