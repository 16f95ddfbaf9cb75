import { Injectable, Logger } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { AppConfig } from '../config/app-config';
import { RendererProbe } from '../health/renderer-probe';
import { withTimeout } from '../health/timeout';
import { SessionStore } from '../session/session.store';
import { AppMetricsRegistry } from './app-metrics.registry';

/** A scrape does not wait longer than this for the session backend (Prometheus' default scrape timeout is 10 s). */
const STORE_READ_TIMEOUT_MS = 2000;

/**
 * A counter fed from a running total read at scrape time. It only ever moves forward: when
 * the source total goes back (a new backend, a flushed Redis) the new total counts as fresh
 * increments, as if the source had restarted.
 */
export class TotalFollower {
  private last = 0;

  constructor(private readonly counter: Counter) {}

  follow(total: number): void {
    const delta = total >= this.last ? total - this.last : total;
    this.last = total;
    if (delta > 0) this.counter.inc(delta);
  }
}

/**
 * Metrics read at scrape time: the store's live count and running totals, the configured
 * capacity, and each renderer's health (from RendererProbe's cached probe). All session
 * metrics of one scrape come from a single `SessionStore.metrics()` call.
 *
 * With the Redis backend the session numbers are those of the shared backend, the same on
 * every instance: aggregate them across instances with max(), not sum().
 */
@Injectable()
export class ScrapeCollector {
  private readonly logger = new Logger(ScrapeCollector.name);
  private readonly active: Gauge;
  private readonly created: TotalFollower;
  private readonly expired: TotalFollower;
  private readonly removed: TotalFollower;
  private readonly rendererUp: Gauge<'renderer'>;
  private pending: Promise<void> | null = null;

  constructor(
    registry: AppMetricsRegistry,
    private readonly store: SessionStore,
    private readonly probe: RendererProbe,
    config: AppConfig,
  ) {
    const registers = [registry];
    const collect = () => this.refreshSessions();
    this.active = new Gauge({ name: 'riptide_sessions_active', help: 'Live (unexpired) sessions.', registers, collect });
    new Gauge({
      name: 'riptide_sessions_capacity',
      help: 'Configured maximum of live sessions (SESSION_MAX_SESSIONS); creating more answers 503.',
      registers,
    }).set(config.session_max_sessions);
    new Gauge({
      name: 'riptide_session_backend_info',
      help: 'The session backend in use (value always 1).',
      labelNames: ['backend'],
      registers,
    }).set({ backend: config.session_backend }, 1);
    const counter = (name: string, help: string) => new TotalFollower(new Counter({ name, help, registers, collect }));
    this.created = counter('riptide_sessions_created_total', 'Sessions created.');
    this.expired = counter('riptide_sessions_expired_total', 'Sessions that expired (removed by the sweep or found expired).');
    this.removed = counter('riptide_sessions_removed_total', 'Sessions removed explicitly (DELETE).');
    this.rendererUp = new Gauge({
      name: 'riptide_renderer_up',
      help: 'Whether the renderer answers GET /healthz with 200 (1) or not (0), by renderer base URL.',
      labelNames: ['renderer'],
      registers,
      collect: () => this.refreshRenderers(),
    });
  }

  /** One store read per scrape, shared by every session metric's collect. */
  private refreshSessions(): Promise<void> {
    this.pending ??= withTimeout(this.store.metrics(), STORE_READ_TIMEOUT_MS)
      .then((m) => {
        this.active.set(m.activeSessions);
        this.created.follow(m.createdTotal);
        this.expired.follow(m.expiredTotal);
        this.removed.follow(m.removedTotal);
      })
      // The backend being down must not fail the scrape: its errors have their own counter.
      .catch((err: unknown) => this.logger.warn({ err }, 'could not read session metrics for /metrics'))
      .finally(() => (this.pending = null));
    return this.pending;
  }

  private async refreshRenderers(): Promise<void> {
    const renderers = await this.probe.check();
    this.rendererUp.reset();
    for (const renderer of renderers) this.rendererUp.set({ renderer: renderer.url }, renderer.up ? 1 : 0);
  }
}
