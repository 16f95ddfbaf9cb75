import { Injectable } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { Counter, Histogram } from 'prom-client';
import type { SessionBackend } from '../session/backends/session-backend';
import { AppMetricsRegistry } from './app-metrics.registry';

/** Why a session could not take a request or be created (429 request limit / tenant quota, 503 capacity). */
export type LimitRejectionReason = 'request_limit' | 'tenant_quota' | 'capacity' | 'bytes_quota';
const REASONS: readonly LimitRejectionReason[] = ['request_limit', 'tenant_quota', 'capacity', 'bytes_quota'];

const BACKEND_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const CLEANUP_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

type AnyMethod = (...args: unknown[]) => unknown;

const isPromise = (value: unknown): value is Promise<unknown> =>
  typeof (value as { then?: unknown } | null)?.then === 'function';

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
  private readonly backendDuration: Histogram<'operation'>;
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
    this.backendDuration = new Histogram({
      name: 'riptide_session_backend_operation_duration_seconds',
      help: 'Duration of session backend operations, by operation (create, get, reserveRequest, sweep, ping...).',
      labelNames: ['operation'],
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

  /**
   * The backend as the store should use it: every method call is timed under its own name
   * (a bounded set: the backend's methods). Lifecycle hooks stay on the original instance,
   * which is the one Nest holds.
   */
  instrument(backend: SessionBackend): SessionBackend {
    const timed = new Map<string, AnyMethod>();
    return new Proxy(backend, {
      get: (target, property) => {
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== 'function' || typeof property !== 'string') return value;
        let method = timed.get(property);
        if (!method) {
          method = this.timedOperation(property, (value as AnyMethod).bind(target));
          timed.set(property, method);
        }
        return method;
      },
    });
  }

  private timedOperation(operation: string, method: AnyMethod): AnyMethod {
    const duration = this.backendDuration.labels({ operation });
    const errors = this.backendErrors.labels({ operation });
    errors.inc(0);
    return (...args: unknown[]) => {
      const started = performance.now();
      const observe = () => duration.observe((performance.now() - started) / 1000);
      let result: unknown;
      try {
        result = method(...args);
      } catch (err) {
        observe();
        errors.inc();
        throw err;
      }
      if (!isPromise(result)) {
        observe();
        return result;
      }
      return result.then(
        (value) => {
          observe();
          return value;
        },
        (err: unknown) => {
          observe();
          errors.inc();
          throw err;
        },
      );
    };
  }
}
