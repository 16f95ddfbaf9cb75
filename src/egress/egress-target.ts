import { IpBytes, parseIp } from './ip-address';

/** Where a connection would go: a host as the WHATWG URL parser normalises it, and a port. */
export interface EgressTarget {
  /** Lower-case name, or an IP literal without brackets (`127.0.0.1`, `::ffff:7f00:1`). */
  host: string;
  port: number;
  /** The address when `host` is an IP literal; a name has to be resolved first. */
  literal: IpBytes | null;
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443, 'ws:': 80, 'wss:': 443 };

/**
 * The target of a URL. The URL parser has already turned `2130706433`, `0x7f.1` and
 * `[::ffff:127.0.0.1]` into `127.0.0.1` and `[::ffff:7f00:1]`, exactly as the browser does, so
 * the policy judges what would really be connected to.
 */
export function targetOfUrl(url: URL): EgressTarget {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  const port = url.port ? Number(url.port) : (DEFAULT_PORTS[url.protocol] ?? 0);
  return { host, port, literal: parseIp(host) };
}

/** A CONNECT request's `host:port`, normalised by the same parser; null when it is not one. */
export function targetOfAuthority(authority: string): EgressTarget | null {
  let url: URL;
  try {
    url = new URL(`http://${authority}`);
  } catch {
    return null;
  }
  // Nothing but host and port may be there: no credentials, path or query smuggled along.
  if (!url.port || url.username || url.password || url.pathname !== '/' || url.search || url.hash) return null;
  if (authority.includes('/') || authority.includes('@')) return null;
  return targetOfUrl(url);
}

/** A host as a URL writes it: IPv6 literals in brackets. */
export const formatHost = (host: string): string => (host.includes(':') ? `[${host}]` : host);

/** `host:port` for messages and for matching the browser's failed requests to refusals. */
export function authorityOf(target: Pick<EgressTarget, 'host' | 'port'>): string {
  return `${formatHost(target.host)}:${target.port}`;
}
