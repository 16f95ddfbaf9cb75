import { BadRequestException, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { SessionMetricsRecorder } from '../metrics/session-metrics.recorder';
import { Clock } from '../common/clock';
import {
  CapacityLimits,
  capText,
  NewSession,
  percentile,
  RenderRecord,
  RESERVED_SESSION_IDS,
  Session,
  SessionConfig,
  SessionPatch,
  SessionRef,
  StateSnapshot,
} from './session';
import { CreateOutcome, CreateRefusal, SessionBackend, SessionPage } from './backends/session-backend';
import {
  bytesQuotaReached,
  capacityReached,
  RequestLimitReached,
  sessionExists,
  sessionNotFound,
  tenantQuotaReached,
} from './session.errors';

export interface CreateSessionInput {
  id?: string;
  config?: Partial<SessionConfig>;
  metadata?: Record<string, string>;
}

/**
 * A recorded render: the session after it, and whether the render's browser state is kept —
 * true when saved (or when a newer one already was), false when refused for size (over
 * session_max_storage_state_bytes, or the tenant's storage budget): the previous state stays.
 * null when the render brought no state.
 */
export interface RecordedRender {
  session: Session;
  stateSaved: boolean | null;
}

/** What one expiry sweep removed: in all, and per tenant. */
export interface SweepTally {
  removed: number;
  byTenant: ReadonlyMap<string, number>;
}

export interface SessionMetrics {
  activeSessions: number;
  totalRequests: number;
  avgRenderTimeMs: number;
  avgSessionAgeSeconds: number;
  renderTimeMsP50: number | null;
  renderTimeMsP95: number | null;
  renderTimeMsP99: number | null;
  createdTotal: number;
  expiredTotal: number;
  removedTotal: number;
  /** Bytes held against the storage budget (session_max_bytes_per_tenant). */
  storedBytes: number;
}

/**
 * The session store: defaults, capacity and limits over whichever backend is configured.
 * Method names follow RipTide's RpcSessionStore (getOrCreate, get, remove, cleanupExpired,
 * metrics) so in-process callers read the same. Built by SessionModule's factory, over the
 * backend wrapped for metrics; without a recorder (tests), over the backend as is.
 */
@Injectable()
export class SessionStore {
  private readonly defaults: SessionConfig;
  private readonly limits: CapacityLimits;
  private readonly removalListeners = new Set<(removed: SessionRef) => void>();

  constructor(
    private readonly backend: SessionBackend,
    private readonly clock: Clock,
    private readonly appConfig: AppConfig,
    private readonly recorder?: SessionMetricsRecorder,
  ) {
    this.defaults = {
      ttlSeconds: appConfig.session_default_ttl_seconds,
      autoRenew: true,
      maxRequests: 0,
      trackMetrics: true,
    };
    this.limits = {
      maxSessions: appConfig.session_max_sessions,
      maxPerTenant: appConfig.session_max_per_tenant,
      maxBytesPerTenant: appConfig.session_max_bytes_per_tenant,
    };
  }

  /** Creates a session; 409 if that id is live. */
  async create(tenant: string, input: CreateSessionInput = {}): Promise<Session> {
    const outcome = await this.backend.create(this.newSession(tenant, input), this.limits, this.clock.now());
    if (outcome.kind === 'exists') throw sessionExists(outcome.session.id);
    return this.created(outcome).session;
  }

  /** The live session with that id, or a new one from `input` (input is ignored if it exists). */
  async getOrCreate(tenant: string, id: string, input: Omit<CreateSessionInput, 'id'> = {}): Promise<{ session: Session; created: boolean }> {
    const outcome = await this.backend.create(this.newSession(tenant, { ...input, id }), this.limits, this.clock.now());
    return this.created(outcome);
  }

  get(tenant: string, id: string): Promise<Session | null> {
    return this.backend.get(tenant, id, this.clock.now());
  }

  async touch(tenant: string, id: string): Promise<Session> {
    return (await this.backend.touch(tenant, id, this.clock.now())) ?? this.notFound(id);
  }

  async update(tenant: string, id: string, patch: SessionPatch): Promise<Session> {
    const outcome = await this.backend.update(tenant, id, this.clock.now(), patch, this.limits.maxBytesPerTenant);
    switch (outcome.kind) {
      case 'updated':
        return outcome.session;
      case 'not_found':
        return this.notFound(id);
      case 'metadata_limit':
        throw new BadRequestException(`metadata would have ${outcome.keys} keys; at most 64 are allowed`);
      default:
        return this.refuse(outcome);
    }
  }

  async remove(tenant: string, id: string): Promise<boolean> {
    const removed = await this.backend.remove(tenant, id, this.clock.now());
    if (removed) this.removed(removed);
    return removed !== null;
  }

  /**
   * Lets other modules react to every removal the store learns of, with the incarnation that
   * went (the API closes that incarnation's browser contexts): an explicit remove at once;
   * sessions the sweep removes, and expired ones another operation dropped (reported by the
   * next sweep), when the sweep runs. Listeners are called synchronously and must not throw.
   */
  onRemoved(listener: (removed: SessionRef) => void): void {
    this.removalListeners.add(listener);
  }

  list(tenant: string, limit: number, after: string | null): Promise<SessionPage> {
    return this.backend.list(tenant, this.clock.now(), limit, after);
  }

  /**
   * Takes one request from the session's allowance before a render is sent, creating the
   * session with defaults if it does not exist (RipTide's get-or-create on render).
   * Throws 429 when the limit is reached (and for the tenant quota), 503 at capacity.
   */
  async reserveRequest(tenant: string, id: string): Promise<{ session: Session; stateSeq: number | null }> {
    const outcome = await this.backend.reserveRequest(tenant, id, this.clock.now(), {
      init: this.newSession(tenant, { id }),
      limits: this.limits,
    });
    switch (outcome.kind) {
      case 'reserved':
        this.recorder?.sessionRequest();
        return { session: outcome.session, stateSeq: outcome.stateSeq };
      case 'limit':
        this.recorder?.limitRejection('request_limit');
        throw new RequestLimitReached(outcome.session.requestCount, outcome.session.config.maxRequests);
      case 'not_found':
        return this.notFound(id);
      default:
        return this.refuse(outcome);
    }
  }

  /** Gives back a request reserved for a render that no renderer ran; null when the session is gone. */
  refundRequest(tenant: string, id: string): Promise<Session | null> {
    return this.backend.refundRequest(tenant, id, this.clock.now());
  }

  /**
   * Records a finished render; url and error are cut to SESSION_TEXT_MAX_LENGTH characters. The
   * browser state is dropped when over the configured cap, and kept only if it is newer
   * (greater seq) than the saved one and fits the tenant's storage budget. null: no such session.
   */
  async recordResult(tenant: string, id: string, record: RenderRecord): Promise<RecordedRender | null> {
    const state = record.storageState;
    if (state && !(Number.isSafeInteger(state.seq) && state.seq > 0)) {
      throw new TypeError(`storage state seq must be a positive integer, not ${state.seq}`);
    }
    const fits = state == null || Buffer.byteLength(state.json) <= this.appConfig.session_max_storage_state_bytes;
    const capped = { ...record, url: capText(record.url), error: capText(record.error), ...(!fits && { storageState: undefined }) };
    const outcome = await this.backend.recordResult(tenant, id, this.clock.now(), capped, this.limits.maxBytesPerTenant);
    if (!outcome) return null;
    const stateSaved = !fits ? false : outcome.state === 'none' ? null : outcome.state !== 'over_budget';
    return { session: outcome.session, stateSaved };
  }

  /** The saved browser state; 404 for an unknown session, null when nothing was saved. */
  async storageState(tenant: string, id: string): Promise<StateSnapshot | null> {
    const found = await this.backend.storageState(tenant, id, this.clock.now());
    return found ? found.state : this.notFound(id);
  }

  /** Runs the expiry sweep over every tenant; returns how many sessions it removed. */
  async cleanupExpired(): Promise<number> {
    return (await this.cleanupExpiredByTenant()).removed;
  }

  /**
   * The same sweep, also telling how many of the removed sessions were each tenant's. Every
   * removal it reports reaches the onRemoved listeners.
   */
  cleanupExpiredByTenant(): Promise<SweepTally> {
    const sweep = async (): Promise<SweepTally> => {
      const byTenant = new Map<string, number>();
      const removed = await this.backend.sweep(this.clock.now(), (ref, swept) => {
        if (swept) byTenant.set(ref.tenant, (byTenant.get(ref.tenant) ?? 0) + 1);
        this.removed(ref);
      });
      return { removed, byTenant };
    };
    return this.recorder ? this.recorder.timeCleanup(sweep) : sweep();
  }

  /**
   * Aggregate metrics: over the given tenant's sessions only (what its API callers may see),
   * or over all tenants when none is given (Prometheus, in-process callers).
   */
  async metrics(tenant?: string): Promise<SessionMetrics> {
    const now = this.clock.now();
    const m = await this.backend.metrics(now, tenant);
    const samples = m.recentRenderTimes;
    return {
      activeSessions: m.activeSessions,
      totalRequests: m.totalRequests,
      avgRenderTimeMs: m.renderCount > 0 ? m.totalRenderTimeMs / m.renderCount : 0,
      avgSessionAgeSeconds: m.activeSessions > 0 ? Math.max(0, now - m.sumCreatedAt / m.activeSessions) / 1000 : 0,
      renderTimeMsP50: percentile(samples, 0.5),
      renderTimeMsP95: percentile(samples, 0.95),
      renderTimeMsP99: percentile(samples, 0.99),
      createdTotal: m.createdTotal,
      expiredTotal: m.expiredTotal,
      removedTotal: m.removedTotal,
      storedBytes: m.storedBytes,
    };
  }

  ping(): Promise<void> {
    return this.backend.ping();
  }

  private newSession(tenant: string, input: CreateSessionInput): NewSession {
    const id = input.id ?? `rpc_session_${randomBytes(12).toString('hex')}`;
    if (RESERVED_SESSION_IDS.has(id)) throw new BadRequestException(`session_id '${id}' is reserved`);
    const given = input.config ?? {};
    const config: SessionConfig = {
      ttlSeconds: given.ttlSeconds ?? this.defaults.ttlSeconds,
      autoRenew: given.autoRenew ?? this.defaults.autoRenew,
      maxRequests: given.maxRequests ?? this.defaults.maxRequests,
      trackMetrics: given.trackMetrics ?? this.defaults.trackMetrics,
      ...(given.proxy && { proxy: given.proxy }),
    };
    return { tenant, id, config, metadata: input.metadata };
  }

  private removed(ref: SessionRef): void {
    for (const listener of this.removalListeners) listener(ref);
  }

  private created(outcome: CreateOutcome): { session: Session; created: boolean } {
    switch (outcome.kind) {
      case 'created':
        return { session: outcome.session, created: true };
      case 'exists':
        return { session: outcome.session, created: false };
      default:
        return this.refuse(outcome);
    }
  }

  private refuse(outcome: CreateRefusal): never {
    this.recorder?.limitRejection(outcome.kind);
    switch (outcome.kind) {
      case 'tenant_quota':
        throw tenantQuotaReached(outcome.live, outcome.max);
      case 'capacity':
        throw capacityReached(outcome.live, outcome.max);
      case 'bytes_quota':
        throw bytesQuotaReached(outcome.bytes, outcome.max);
    }
  }

  private notFound(id: string): never {
    throw sessionNotFound(id);
  }
}
