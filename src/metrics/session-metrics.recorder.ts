import { Injectable } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { Counter, Histogram } from 'prom-client';
import type {
  CreateOutcome,
  PatchOutcome,
  RecordOutcome,
  ReserveOutcome,
  SessionBackend,
  SessionPage,
  SweepListener,
} from '../session/backends/session-backend';
import type {
  BackendMetrics,
  CapacityLimits,
  NewSession,
  RenderRecord,
  Session,
  SessionPatch,
  SessionRef,
  StateSnapshot,
} from '../session/session';
import { AppMetricsRegistry } from './app-metrics.registry';
import { HistogramSeries, LabelledHistogram } from './labelled-histogram';

/** Why a session could not take a request or be created (429 request limit / tenant quota, 503 capacity). */
export type LimitRejectionReason = 'request_limit' | 'tenant_quota' | 'capacity' | 'bytes_quota';
const REASONS: readonly LimitRejectionReason[] = ['request_limit', 'tenant_quota', 'capacity', 'bytes_quota'];

const BACKEND_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const CLEANUP_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * What the session store records on its request path: admitted session requests, limit
 * rejections, the cleanup sweep's duration and every backend operation's duration.
 * (Live/created/expired/removed counts are read from the store at scrape time instead: see
 * ScrapeCollector.)
 */
@Injectable()
export class SessionMetricsRecorder {
  private readonly requests: Counter;
  private readonly rejections: Counter<'reason'>;
  private readonly cleanupDuration: Histogram<'outcome'>;
  private readonly backendDuration: LabelledHistogram<'operation'>;
  private readonly backendErrors: Counter<'operation'>;

  constructor(registry: AppMetricsRegistry) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'riptide_session_requests_total',
      help: 'Requests admitted on a session (one reserved per session render).',
      registers,
    });
    this.rejections = new Counter({
      name: 'riptide_session_limit_rejections_total',
      help: 'Session requests or creations refused by a limit: request_limit and tenant_quota (429), capacity (503).',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of REASONS) this.rejections.inc({ reason }, 0);
    this.cleanupDuration = new Histogram({
      name: 'riptide_session_cleanup_duration_seconds',
      help: 'Duration of the expired-session sweep (scheduled or POST /v1/sessions/cleanup).',
      labelNames: ['outcome'],
      buckets: CLEANUP_BUCKETS,
      registers,
    });
    // Observed on every request (the session read path among them): see LabelledHistogram.
    this.backendDuration = new LabelledHistogram({
      name: 'riptide_session_backend_operation_duration_seconds',
      help: 'Duration of session backend operations, by operation (create, get, reserveRequest, sweep, ping...).',
      labelName: 'operation',
      buckets: BACKEND_BUCKETS,
      registers,
    });
    this.backendErrors = new Counter({
      name: 'riptide_session_backend_errors_total',
      help: 'Session backend operations that failed (threw), by operation.',
      labelNames: ['operation'],
      registers,
    });
  }

  /** A request was reserved on a session. */
  sessionRequest(): void {
    this.requests.inc();
  }

  limitRejection(reason: LimitRejectionReason): void {
    this.rejections.inc({ reason });
  }

  /** Runs one cleanup sweep and records its duration (outcome success/error). */
  async timeCleanup<T>(sweep: () => Promise<T>): Promise<T> {
    const end = this.cleanupDuration.startTimer();
    try {
      const result = await sweep();
      end({ outcome: 'success' });
      return result;
    } catch (err) {
      end({ outcome: 'error' });
      throw err;
    }
  }

  /** The duration histogram and error counter of one backend operation, bound to its label. */
  backendOperation(operation: keyof SessionBackend): BackendOperationTimer {
    const errors = this.backendErrors.labels({ operation });
    errors.inc(0);
    return new BackendOperationTimer(this.backendDuration.labels(operation), errors);
  }

}

/** Times one backend operation: `time(performance.now(), backend.op(...))` (the clock is read first). */
export class BackendOperationTimer {
  constructor(
    private readonly duration: HistogramSeries,
    private readonly errors: Counter.Internal,
  ) {}

  time<T>(started: number, result: Promise<T>): Promise<T> {
    return result.then(
      (value) => {
        this.duration.observe((performance.now() - started) / 1000);
        return value;
      },
      (err: unknown) => {
        this.duration.observe((performance.now() - started) / 1000);
        this.errors.inc();
        throw err;
      },
    );
  }
}

/**
 * A session backend whose every operation is timed and whose failures are counted, by
 * operation (riptide_session_backend_operation_duration_seconds, _errors_total). Built in
 * SessionModule's factory around the configured backend, which Nest keeps for its lifecycle
 * hooks. Written out method by method instead of a Proxy, whose trap ran on every call of
 * the session read path; `implements SessionBackend` makes a new backend method fail to
 * compile until it is timed here too.
 */
export class TimedSessionBackend implements SessionBackend {
  private readonly op: { [K in keyof SessionBackend]: BackendOperationTimer };

  constructor(
    private readonly inner: SessionBackend,
    recorder: SessionMetricsRecorder,
  ) {
    // A literal, so that an operation missing here is a compile error too.
    const timer = (name: keyof SessionBackend) => recorder.backendOperation(name);
    this.op = {
      create: timer('create'),
      get: timer('get'),
      touch: timer('touch'),
      reserveRequest: timer('reserveRequest'),
      refundRequest: timer('refundRequest'),
      recordResult: timer('recordResult'),
      update: timer('update'),
      remove: timer('remove'),
      list: timer('list'),
      storageState: timer('storageState'),
      sweep: timer('sweep'),
      metrics: timer('metrics'),
      ping: timer('ping'),
    };
  }

  create(init: NewSession, limits: CapacityLimits, now: number): Promise<CreateOutcome> {
    return this.op.create.time(performance.now(), this.inner.create(init, limits, now));
  }
  get(tenant: string, id: string, now: number): Promise<Session | null> {
    return this.op.get.time(performance.now(), this.inner.get(tenant, id, now));
  }
  touch(tenant: string, id: string, now: number): Promise<Session | null> {
    return this.op.touch.time(performance.now(), this.inner.touch(tenant, id, now));
  }
  reserveRequest(
    tenant: string,
    id: string,
    now: number,
    createWith?: { init: NewSession; limits: CapacityLimits },
  ): Promise<ReserveOutcome> {
    return this.op.reserveRequest.time(performance.now(), this.inner.reserveRequest(tenant, id, now, createWith));
  }
  refundRequest(tenant: string, id: string, now: number): Promise<Session | null> {
    return this.op.refundRequest.time(performance.now(), this.inner.refundRequest(tenant, id, now));
  }
  recordResult(tenant: string, id: string, now: number, record: RenderRecord, maxTenantBytes: number): Promise<RecordOutcome | null> {
    return this.op.recordResult.time(performance.now(), this.inner.recordResult(tenant, id, now, record, maxTenantBytes));
  }
  update(tenant: string, id: string, now: number, patch: SessionPatch, maxTenantBytes: number): Promise<PatchOutcome> {
    return this.op.update.time(performance.now(), this.inner.update(tenant, id, now, patch, maxTenantBytes));
  }
  remove(tenant: string, id: string, now: number): Promise<SessionRef | null> {
    return this.op.remove.time(performance.now(), this.inner.remove(tenant, id, now));
  }
  list(tenant: string, now: number, limit: number, after: string | null): Promise<SessionPage> {
    return this.op.list.time(performance.now(), this.inner.list(tenant, now, limit, after));
  }
  storageState(tenant: string, id: string, now: number): Promise<{ state: StateSnapshot | null } | null> {
    return this.op.storageState.time(performance.now(), this.inner.storageState(tenant, id, now));
  }
  sweep(now: number, listener?: SweepListener): Promise<number> {
    return this.op.sweep.time(performance.now(), this.inner.sweep(now, listener));
  }
  metrics(now: number, tenant?: string): Promise<BackendMetrics> {
    return this.op.metrics.time(performance.now(), this.inner.metrics(now, tenant));
  }
  ping(): Promise<void> {
    return this.op.ping.time(performance.now(), this.inner.ping());
  }
}
