import { EgressTarget, targetOfUrl } from './egress-target';

/** A render's upstream proxy, in Playwright's shape (DESIGN §2: the session's `proxy`). */
export interface ProxySetting {
  server: string;
  username?: string;
  password?: string;
}

/** An upstream proxy the egress layer chains to, parsed once. */
export interface UpstreamProxy {
  /** https: TLS to the proxy itself, then the same HTTP proxying as http. */
  protocol: 'http' | 'https' | 'socks5';
  target: EgressTarget;
  username: string | null;
  password: string | null;
  /** The operator's RENDER_UPSTREAM_PROXY is trusted; a session's must pass the egress policy. */
  trusted: boolean;
  /** `protocol://host:port`, never the credentials: the only form that is logged or shown. */
  display: string;
}

const PROTOCOLS: Record<string, UpstreamProxy['protocol']> = { 'http:': 'http', 'https:': 'https', 'socks5:': 'socks5' };

/**
 * `http://host:port`, `https://host:port` or `socks5://host:port`; credentials as separate fields or in the URL
 * (RENDER_UPSTREAM_PROXY is one string). A string says what is wrong, without echoing a password.
 */
export function parseUpstreamProxy(setting: ProxySetting, trusted: boolean): UpstreamProxy | string {
  let url: URL;
  try {
    url = new URL(setting.server);
  } catch {
    return 'server must be a URL such as http://host:port, https://host:port or socks5://host:port';
  }
  const protocol = PROTOCOLS[url.protocol];
  if (!protocol) return `server scheme '${url.protocol}' is not supported; use http, https or socks5`;
  if (!url.port && protocol !== 'https') return 'server must name a port';
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) return 'server must be scheme://host:port only';
  const username = setting.username ?? (url.username ? decodeURIComponent(url.username) : null);
  const password = setting.password ?? (url.password ? decodeURIComponent(url.password) : null);
  if (protocol === 'socks5' && ((username?.length ?? 0) > 255 || (password?.length ?? 0) > 255)) {
    return 'socks5 username and password must be at most 255 bytes';
  }
  // socks5: is not a special scheme, so its host is left as typed; parse it as a web host instead.
  const target = { ...targetOfUrl(new URL(`http://${url.host}`)), port: Number(url.port || 443) };
  return { protocol, target, username, password, trusted, display: `${protocol}://${url.host}` };
}
