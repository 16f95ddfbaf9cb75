import { BeforeApplicationShutdown, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';
import { AppConfig } from '../config/app-config';
import { SessionStore } from '../session/session.store';
import { failureReason, RendererProbe } from './renderer-probe';
import { withTimeout } from './timeout';

/** The backend must answer a ping within this. */
export const BACKEND_PING_TIMEOUT_MS = 800;

/**
 * The readiness checks. Bodies carry short reasons only (an errno code, "timeout"), never
 * a stack or an address: /health is open to anyone who can reach the port. Changes of state
 * are logged with the full error instead.
 */
@Injectable()
export class ReadinessIndicators implements OnModuleDestroy, BeforeApplicationShutdown {
  private readonly logger = new Logger('Readiness');
  private shuttingDown = false;
  private readonly lastUp = new Map<string, boolean>();

  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly store: SessionStore,
    private readonly probe: RendererProbe,
    private readonly config: AppConfig,
  ) {}

  // Shutdown runs onModuleDestroy, then beforeApplicationShutdown, and only then closes the
  // server: readiness turns red at the first of these, while requests are still answered.
  onModuleDestroy(): void {
    this.beginShutdown();
  }

  beforeApplicationShutdown(): void {
    this.beginShutdown();
  }

  lifecycle(): HealthIndicatorResult<'lifecycle'> {
    const check = this.indicators.check('lifecycle');
    return this.shuttingDown ? check.down({ message: 'shutting down' }) : check.up();
  }

  async sessionBackend(): Promise<HealthIndicatorResult<'session_backend'>> {
    const check = this.indicators.check('session_backend');
    const backend = this.config.session_backend;
    try {
      await withTimeout(this.store.ping(), BACKEND_PING_TIMEOUT_MS);
      this.transition('session_backend', true);
      return check.up({ backend });
    } catch (err) {
      this.transition('session_backend', false, err);
      return check.down({ backend, message: `unreachable: ${failureReason(err)}` });
    }
  }

  async renderers(): Promise<HealthIndicatorResult<'renderers'>> {
    const check = this.indicators.check('renderers');
    const all = await this.probe.check();
    const healthy = all.filter((renderer) => renderer.up).length;
    const up = healthy > 0;
    this.transition('renderers', up, up ? undefined : all.map((r) => `${r.url}: ${r.reason}`).join('; '));
    const counts = { healthy, total: all.length };
    return up ? check.up(counts) : check.down({ ...counts, message: 'no renderer is healthy' });
  }

  private beginShutdown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.logger.log('shutting down: readiness now reports 503');
  }

  private transition(name: string, up: boolean, detail?: unknown): void {
    const before = this.lastUp.get(name);
    this.lastUp.set(name, up);
    if (before === up || (before === undefined && up)) return;
    if (up) this.logger.log(`${name} is healthy again`);
    else this.logger.warn({ err: detail }, `${name} is not healthy: readiness reports 503`);
  }
}
