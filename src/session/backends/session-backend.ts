import { ServiceUnavailableException } from '@nestjs/common';
import type {
  BackendMetrics,
  CapacityLimits,
  NewSession,
  RenderRecord,
  Session,
  SessionPatch,
} from '../session';

/**
 * The backend cannot serve now (Redis unreachable, timing out, loading): the API answers 503
 * "session backend unavailable" through its ordinary exception filter, and the cause is kept
 * for logs. Backends throw it from any operation, and from ping().
 */
export class BackendUnavailableError extends ServiceUnavailableException {
  /** A short reason for health bodies and logs: an errno-style code such as ECONNREFUSED. */
  readonly code: string;

  constructor(cause?: Error, code?: string) {
    super('session backend unavailable', { cause });
    this.code = code ?? (cause as { code?: unknown } | undefined)?.code?.toString() ?? 'UNAVAILABLE';
  }
}

/** Injection token for the configured SessionBackend. */
export const SESSION_BACKEND = Symbol('SESSION_BACKEND');

export type CreateOutcome =
  | { kind: 'created'; session: Session }
  | { kind: 'exists'; session: Session }
  | { kind: 'tenant_quota'; live: number; max: number }
  | { kind: 'capacity'; live: number; max: number };

export type ReserveOutcome =
  /** storageState: the saved browser state, so a render can restore it in the same round trip. */
  | { kind: 'reserved'; session: Session; created: boolean; storageState: string | null }
  | { kind: 'limit'; session: Session }
  | { kind: 'not_found' }
  | { kind: 'tenant_quota'; live: number; max: number }
  | { kind: 'capacity'; live: number; max: number };

export type PatchOutcome =
  | { kind: 'updated'; session: Session }
  | { kind: 'not_found' }
  | { kind: 'metadata_limit'; keys: number };

export interface SessionPage {
  items: Session[];
  /** The last id of this page when more may follow, else null. */
  after: string | null;
}

/**
 * Storage for sessions. Every method is one atomic operation on the stored session (no
 * read-modify-write across calls), so concurrent requests and several API instances cannot
 * lose updates or overrun a request limit. `now` is passed in so the clock stays injectable.
 * A session whose expires_at <= now is treated as absent by every method.
 */
export interface SessionBackend {
  /** Inserts unless a live session has the id; an expired one is replaced. */
  create(init: NewSession, limits: CapacityLimits, now: number): Promise<CreateOutcome>;
  get(tenant: string, id: string, now: number): Promise<Session | null>;
  /** Sets last_accessed and, with auto_renew, expires_at = now + ttl. */
  touch(tenant: string, id: string, now: number): Promise<Session | null>;
  /**
   * Touches and takes one request if request_count < max_requests (or unlimited).
   * With `createWith`, a missing session is first created from it, in the same step.
   */
  reserveRequest(
    tenant: string,
    id: string,
    now: number,
    createWith?: { init: NewSession; limits: CapacityLimits },
  ): Promise<ReserveOutcome>;
  /** Records a finished render (touches; error_count/last_error on failure). */
  recordResult(tenant: string, id: string, now: number, record: RenderRecord): Promise<Session | null>;
  update(tenant: string, id: string, now: number, patch: SessionPatch): Promise<PatchOutcome>;
  remove(tenant: string, id: string, now: number): Promise<boolean>;
  /** Live sessions of a tenant in session-id order, after the given id. */
  list(tenant: string, now: number, limit: number, after: string | null): Promise<SessionPage>;
  /** null when the session does not exist; state null when it has no saved browser state. */
  storageState(tenant: string, id: string, now: number): Promise<{ state: string | null } | null>;
  /**
   * Removes expired sessions of every tenant; returns how many. With `byTenant`, also adds
   * each tenant's share of them to that map (tenant -> count), from the same sweep.
   */
  sweep(now: number, byTenant?: Map<string, number>): Promise<number>;
  /**
   * Aggregates, kept incrementally (no scan of the sessions): with `tenant`, over that
   * tenant's sessions only (zeros for a tenant never seen); without, over all tenants. The
   * global counts are the sums of the per-tenant ones; the global recent render times are the
   * most recent of all tenants, each tenant's those of its own sessions.
   */
  metrics(now: number, tenant?: string): Promise<BackendMetrics>;
  /** Throws when the backend cannot serve requests. */
  ping(): Promise<void>;
}
