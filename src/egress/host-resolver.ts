import { lookup } from 'node:dns/promises';
import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';

/** Every lookup ends within this, answered or not: a stalled resolver must not hold a render. */
export const DNS_TIMEOUT_MS = 3000;
/** Attempts per query against RENDER_DNS_SERVERS (each bounded by the Resolver's own timeout). */
const DNS_TRIES = 2;

export type ResolveOutcome =
  /** `ttlSeconds`: the least TTL of the records, when the resolver tells it (getaddrinfo does not). */
  | { ok: true; addresses: string[]; ttlSeconds?: number }
  | { ok: false; error: string };

/** Resolves a name to all of its IPv4 and IPv6 addresses; never throws, never waits forever. */
export type HostResolver = (host: string) => Promise<ResolveOutcome>;

/**
 * RENDER_DNS_SERVERS when given (`ip[:port]` entries, queried directly for A and AAAA), else
 * the system resolver (getaddrinfo, as everything else on the host resolves).
 */
export function createHostResolver(servers: readonly string[], timeoutMs = DNS_TIMEOUT_MS): HostResolver {
  return servers.length > 0 ? serverResolver(servers, timeoutMs) : systemResolver(timeoutMs);
}

/** Why a RENDER_DNS_SERVERS entry is unusable, or null. */
export function dnsServerProblem(entry: string): string | null {
  const match = /^(?:\[([^\]]+)\]|([^:]+)|([0-9a-fA-F:]+))(?::(\d{1,5}))?$/.exec(entry);
  const address = match?.[1] ?? match?.[2] ?? match?.[3];
  if (!address || isIP(address) === 0) return `entry '${entry}' must be ip[:port] (IPv6 with a port as [ip]:port)`;
  if (match?.[4] !== undefined && (Number(match[4]) < 1 || Number(match[4]) > 65535)) return `entry '${entry}' has a bad port`;
  return null;
}

function serverResolver(servers: readonly string[], timeoutMs: number): HostResolver {
  const resolver = new Resolver({ timeout: Math.ceil(timeoutMs / DNS_TRIES), tries: DNS_TRIES });
  resolver.setServers([...servers]);
  return async (host) => {
    // A name with only one family answers the other with ENODATA; that alone is no failure.
    const [v4, v6] = await Promise.allSettled([resolver.resolve4(host, { ttl: true }), resolver.resolve6(host, { ttl: true })]);
    const records = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
    if (records.length > 0) {
      return { ok: true, addresses: records.map((r) => r.address), ttlSeconds: Math.min(...records.map((r) => r.ttl)) };
    }
    const failed = [v4, v6].find((r): r is PromiseRejectedResult => r.status === 'rejected');
    return { ok: false, error: codeOf(failed?.reason) ?? 'no addresses' };
  };
}

function systemResolver(timeoutMs: number): HostResolver {
  return async (host) => {
    let timer: NodeJS.Timeout | undefined;
    // getaddrinfo cannot be cancelled; the answer, if it ever comes, is dropped.
    const timeout = new Promise<ResolveOutcome>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, error: `timed out after ${timeoutMs} ms` }), timeoutMs);
    });
    const answer = lookup(host, { all: true, verbatim: true }).then(
      (found): ResolveOutcome =>
        found.length > 0 ? { ok: true, addresses: found.map((a) => a.address) } : { ok: false, error: 'no addresses' },
      (error: unknown): ResolveOutcome => ({ ok: false, error: codeOf(error) ?? 'lookup failed' }),
    );
    try {
      return await Promise.race([answer, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
