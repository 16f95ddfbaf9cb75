import { ServiceUnavailableException } from '@nestjs/common';
import { retryLater } from '../../common/retry-after';
import type {
  BackendMetrics,
  CapacityLimits,
  NewSession,
  RenderRecord,
  Session,
  SessionPatch,
  SessionRef,
  StateSnapshot,
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
    // Reconnection is automatic; a client that comes back in a second usually finds it again.
    retryLater(this, 1);
    this.code = code ?? (cause as { code?: unknown } | undefined)?.code?.toString() ?? 'UNAVAILABLE';
  }
}

/** Injection token for the configured SessionBackend. */
export const SESSION_BACKEND = Symbol('SESSION_BACKEND');

/** The change would take the tenant's stored bytes (DESIGN §2, storage budget) to `bytes`, past `max`. */
export interface BytesQuota {
  kind: 'bytes_quota';
  bytes: number;
  max: number;
}

/** Refusals of a create: tenant session quota, global capacity, tenant storage budget. */
export type CreateRefusal = { kind: 'tenant_quota' | 'capacity'; live: number; max: number } | BytesQuota;

export type CreateOutcome = { kind: 'created'; session: Session } | { kind: 'exists'; session: Session } | CreateRefusal;

export type ReserveOutcome =
  /**
   * stateSeq: the order number of the saved browser state (null: none). Not the state itself: a
   * render sends it only to a renderer whose context for the session is cold, which reads it
   * with storageState() then; a warm render does not carry up to
   * SESSION_MAX_STORAGE_STATE_BYTES out of the backend for nothing.
   */
  | { kind: 'reserved'; session: Session; created: boolean; stateSeq: number | null }
  | { kind: 'limit'; session: Session }
  | { kind: 'not_found' }
  | CreateRefusal;

/** A refused patch changes nothing. */
export type PatchOutcome =
  | { kind: 'updated'; session: Session }
  | { kind: 'not_found' }
  | { kind: 'metadata_limit'; keys: number }
  | BytesQuota;

/**
 * What became of a render's browser state: saved (or cleared, as asked); stale (not newer than
 * the saved one, which stays); over_budget (it would have taken the tenant past its storage
 * budget: the previous state stays); none (the record carried no state).
 */
export type StateOutcome = 'saved' | 'stale' | 'over_budget' | 'none';

export interface RecordOutcome {
  session: Session;
  state: StateOutcome;
}

export interface SessionPage {
  items: Session[];
  /** The last id of this page when more may follow, else null. */
  after: string | null;
}

/**
 * Hears of the sessions a sweep reports. `swept` true: this sweep found it expired and
 * removed it (counted in the sweep's result). False: it was removed earlier without its
 * caller being told (an expired session some other operation met, or one that a metrics read
 * or a create at capacity swept), and was already counted as expired then.
 */
export type SweepListener = (ref: SessionRef, swept: boolean) => void;

/** Removals held for the next reporting sweep, at most; beyond it, renderers' idle reaping closes the contexts. */
export const UNREPORTED_REMOVALS_MAX = 10_000;

/**
 * Storage for sessions. Every method is one atomic operation on the stored session (no
 * read-modify-write across calls), so concurrent requests and several API instances cannot
 * lose updates or overrun a request limit. `now` is passed in so the clock stays injectable.
 * A session whose expires_at <= now is treated as absent by every method.
 *
 * Every creation of an id (create, or reserveRequest creating) is a new incarnation: a fresh
 * random token on the session, with no saved browser state. Every removal is reported with
 * its incarnation, so that the API can close the browser contexts of that incarnation:
 * `remove` answers it, `sweep` tells its listener, and a removal no caller was told of (an
 * expired session dropped when an operation met it) is held for the next reporting sweep.
 */
export interface SessionBackend {
  /** Inserts unless a live session has the id; an expired one is replaced (a new incarnation). */
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
  /** Gives back one reserved request (never below 0), for a render that no renderer ran. No touch. */
  refundRequest(tenant: string, id: string, now: number): Promise<Session | null>;
  /**
   * Records a finished render (touches; error_count/last_error on failure; the caller has cut
   * url and error to SESSION_TEXT_MAX_LENGTH). Its browser state replaces the saved one only if
   * its seq is greater and the tenant's stored bytes stay within `maxTenantBytes` (atomically,
   * in the same step); the url and error are recorded either way. null: no such session.
   */
  recordResult(tenant: string, id: string, now: number, record: RenderRecord, maxTenantBytes: number): Promise<RecordOutcome | null>;
  /** Refused as a whole (bytes_quota) when it adds bytes and would take the tenant past `maxTenantBytes`. */
  update(tenant: string, id: string, now: number, patch: SessionPatch, maxTenantBytes: number): Promise<PatchOutcome>;
  /** The removed incarnation, or null when no live session had the id. */
  remove(tenant: string, id: string, now: number): Promise<SessionRef | null>;
  /**
   * Live sessions of a tenant in session-id order, after the given id: at most `limit`, and no
   * more once their listedBytes reach LIST_PAGE_MAX_BYTES (always at least one).
   */
  list(tenant: string, now: number, limit: number, after: string | null): Promise<SessionPage>;
  /** null when the session does not exist; state null when it has no saved browser state. */
  storageState(tenant: string, id: string, now: number): Promise<{ state: StateSnapshot | null } | null>;
  /**
   * Removes expired sessions of every tenant; returns how many. With `listener`, reports each
   * of them to it, and every removal held since the last reporting sweep (see SweepListener).
   * Without, what it removes is held for the next sweep that has one.
   */
  sweep(now: number, listener?: SweepListener): Promise<number>;
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
