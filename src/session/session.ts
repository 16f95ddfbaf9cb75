/** The session model shared by the store, the backends and the wire mapping. */

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

export interface SessionConfig {
  readonly ttlSeconds: number;
  readonly autoRenew: boolean;
  /** 0 = unlimited. */
  readonly maxRequests: number;
  readonly trackMetrics: boolean;
}

/** An immutable snapshot of one session, as a backend returns it. Times are epoch ms. */
export interface Session {
  readonly tenant: string;
  readonly id: string;
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
}

/** What a finished render leaves on its session. */
export interface RenderRecord {
  url: string;
  renderTimeMs: number;
  /** null on success; the error message otherwise. */
  error: string | null;
  /** Serialized browser storage state to keep, if the renderer returned one. */
  storageState?: string | null;
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
}

export const isExpired = (expiresAt: number, now: number): boolean => now >= expiresAt;

export function remainingRequests(session: Session): number | null {
  const max = session.config.maxRequests;
  return max === 0 ? null : Math.max(0, max - session.requestCount);
}

/** Nearest-rank percentile of unsorted samples; null when there are none. */
export function percentile(samples: readonly number[], q: number): number | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1];
}
