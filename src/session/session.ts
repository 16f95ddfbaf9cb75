/** The session model shared by the store, the backends and the wire mapping. */

import { randomBytes } from 'node:crypto';

export const SESSION_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
/** Ids that would collide with the collection's own routes (/v1/sessions/metrics, /cleanup). */
export const RESERVED_SESSION_IDS: ReadonlySet<string> = new Set(['metrics', 'cleanup']);

export const METADATA_MAX_KEYS = 64;
export const METADATA_MAX_KEY_LENGTH = 128;
export const METADATA_MAX_VALUE_LENGTH = 4096;
export const MAX_TTL_SECONDS = 31_536_000;
/** Recent render times kept per session for its p50/p95/p99. */
export const SESSION_RENDER_SAMPLES = 64;
/** Recent render times kept for the aggregate percentiles: globally, and again per tenant. */
export const GLOBAL_RENDER_SAMPLES = 1024;

/** last_url and last_error are cut to this many characters (UTF-16 code units) before they are stored. */
export const SESSION_TEXT_MAX_LENGTH = 2048;
/**
 * A list page stops taking sessions once their listed bytes (see listedBytes) reach this: one
 * tenant with huge metadata cannot make one giant reply (or one long Redis script reply).
 */
export const LIST_PAGE_MAX_BYTES = 1024 * 1024;
/** What a listed session costs beyond its stored text: ids, times, counters and field names. */
export const LIST_ITEM_OVERHEAD_BYTES = 512;

/** Longest upstream proxy username or password accepted. */
export const PROXY_CREDENTIAL_MAX_LENGTH = 256;

/**
 * A session's upstream proxy, in Playwright's shape: server is http://, https:// or
 * socks5:// host:port. The password is kept for the renderer and never leaves the API.
 */
export interface UpstreamProxy {
  readonly server: string;
  readonly username?: string;
  readonly password?: string;
}

export interface SessionConfig {
  readonly ttlSeconds: number;
  readonly autoRenew: boolean;
  /** 0 = unlimited. */
  readonly maxRequests: number;
  readonly trackMetrics: boolean;
  /** Absent: the session's browser traffic uses no upstream proxy of its own. */
  readonly proxy?: UpstreamProxy;
}

const INCARNATION_BYTES = 16;
/** Random bytes are drawn for many tokens at once: one randomBytes call costs ~2 µs, a create ~5 µs. */
const INCARNATION_POOL = 256 * INCARNATION_BYTES;
let pool = Buffer.alloc(0);
let pooled = 0;

/**
 * A new incarnation token: 16 random bytes (CSPRNG), base64url. Which creation of a session
 * id a session is: browser contexts and saved browser state belong to one incarnation, so a
 * session created again under an old id can never reach the old one's cookies. Unguessable,
 * never reused, never shown to API clients.
 */
export function newIncarnation(): string {
  if (pooled === pool.length) {
    pool = randomBytes(INCARNATION_POOL);
    pooled = 0;
  }
  pooled += INCARNATION_BYTES;
  return pool.toString('base64url', pooled - INCARNATION_BYTES, pooled);
}

/** Names one incarnation of a session: what the API needs to close its browser contexts. */
export interface SessionRef {
  readonly tenant: string;
  readonly id: string;
  readonly incarnation: string;
}

/**
 * A saved browser state (Playwright's storageState JSON) and its order: `seq` is a positive
 * integer the renderer assigns per browser context, growing with every snapshot it takes, so
 * a snapshot that arrives late (two renders finishing out of order) can be recognised.
 */
export interface StateSnapshot {
  readonly json: string;
  readonly seq: number;
}

/** An immutable snapshot of one session, as a backend returns it. Times are epoch ms. */
export interface Session extends SessionRef {
  readonly createdAt: number;
  readonly lastAccessed: number;
  readonly expiresAt: number;
  readonly config: SessionConfig;
  readonly requestCount: number;
  readonly errorCount: number;
  readonly lastUrl: string | null;
  readonly lastError: string | null;
  readonly totalRenderTimeMs: number;
  /** Renders whose time was recorded (successful ones, with track_metrics). */
  readonly renderCount: number;
  /** The most recent render times, oldest first, at most SESSION_RENDER_SAMPLES. */
  readonly renderTimes: readonly number[];
  readonly metadata: Readonly<Record<string, string>>;
}

export interface NewSession {
  tenant: string;
  id: string;
  config: SessionConfig;
  metadata?: Record<string, string>;
}

export interface CapacityLimits {
  maxSessions: number;
  maxPerTenant: number;
  /** The tenant's storage budget (see sessionBytes); a create that would pass it is refused. */
  maxBytesPerTenant: number;
}

/** What a finished render leaves on its session. */
export interface RenderRecord {
  url: string;
  renderTimeMs: number;
  /** null on success; the error message otherwise. */
  error: string | null;
  /**
   * The browser state to keep: kept only if its seq is greater than the stored one's (an older
   * snapshot is ignored, not an error); null clears the saved state and its order (a clear
   * carries no seq, and a renderer restoring a context from no state counts from 1 again);
   * undefined keeps what is saved.
   */
  storageState?: StateSnapshot | null;
}

/**
 * Partial update with JSON merge patch semantics: a metadata value of null removes that
 * key, and metadata: null removes them all.
 */
export interface SessionPatch {
  ttlSeconds?: number;
  autoRenew?: boolean;
  maxRequests?: number;
  trackMetrics?: boolean;
  /** Replaces the upstream proxy as a whole; null removes it. */
  proxy?: UpstreamProxy | null;
  metadata?: Record<string, string | null> | null;
}

export interface BackendMetrics {
  activeSessions: number;
  totalRequests: number;
  totalRenderTimeMs: number;
  renderCount: number;
  /** Sum of created_at over live sessions, for the average age. */
  sumCreatedAt: number;
  recentRenderTimes: readonly number[];
  createdTotal: number;
  expiredTotal: number;
  removedTotal: number;
  /** The storage budget's count (see utf8Bytes): sessions not dropped yet, expired ones included. */
  storedBytes: number;
}

/**
 * Storage budget accounting (DESIGN §2), the same in every backend: a session's bytes are the
 * UTF-8 bytes of its metadata keys and values, its saved browser state JSON, its last_url and
 * last_error, and its upstream proxy as stored (proxyJson). They count from the session's
 * creation until it is dropped (removed, or found expired, or swept).
 */
export const utf8Bytes = (text: string | null | undefined): number => (text ? Buffer.byteLength(text) : 0);

export function metadataBytes(metadata: Readonly<Record<string, string>> | null | undefined): number {
  let bytes = 0;
  if (metadata) for (const [key, value] of Object.entries(metadata)) bytes += utf8Bytes(key) + utf8Bytes(value);
  return bytes;
}

/** The stored form of an upstream proxy: only its own fields, whatever else the object carries. */
export const proxyJson = ({ server, username, password }: UpstreamProxy): string => JSON.stringify({ server, username, password });

export const proxyBytes = (proxy: UpstreamProxy | undefined): number => (proxy ? utf8Bytes(proxyJson(proxy)) : 0);

/**
 * What a session costs a list page: its stored bytes without the browser state (a list does
 * not return it) plus a fixed overhead. Both backends stop a page at LIST_PAGE_MAX_BYTES.
 */
export const listedBytes = (bytesWithoutState: number): number => bytesWithoutState + LIST_ITEM_OVERHEAD_BYTES;

/**
 * last_url / last_error as stored: at most SESSION_TEXT_MAX_LENGTH characters, never ending in
 * half a surrogate pair.
 */
export function capText(text: string): string;
export function capText(text: string | null): string | null;
export function capText(text: string | null): string | null {
  if (text === null || text.length <= SESSION_TEXT_MAX_LENGTH) return text;
  const cut = text.slice(0, SESSION_TEXT_MAX_LENGTH);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

export const isExpired = (expiresAt: number, now: number): boolean => now >= expiresAt;

export function remainingRequests(session: Session): number | null {
  const max = session.config.maxRequests;
  return max === 0 ? null : Math.max(0, max - session.requestCount);
}

/** Nearest-rank percentile of unsorted samples; null when there are none. */
export function percentile(samples: readonly number[], q: number): number | null {
  return percentiles(samples, [q])[0];
}

/** Nearest-rank percentiles of unsorted samples, sorted once for all of them; nulls when there are none. */
export function percentiles(samples: readonly number[], qs: readonly number[]): (number | null)[] {
  if (samples.length === 0) return qs.map(() => null);
  // A typed array sorts numerically in native code: a JS comparator costs a call per comparison
  // (about 3 % of the API's instructions per session render, callgrind, issue 10).
  const sorted = Float64Array.from(samples).sort();
  return qs.map((q) => sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]);
}
