import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AppConfig } from '../config/app-config';
import { SessionStore, SweepTally } from './session.store';

const JOB = 'session-cleanup';

/** The periodic expiry sweep; its period comes from config, so it is registered by hand. */
@Injectable()
export class SessionCleanupService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(SessionCleanupService.name);
  private running: Promise<SweepTally> | null = null;

  constructor(
    private readonly store: SessionStore,
    private readonly scheduler: SchedulerRegistry,
    private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    // A failed sweep (the Redis backend unreachable) is logged in sweep(); here it must not
    // become an unhandled rejection, which would end the process.
    const interval = setInterval(
      () => void this.sweep().catch(() => undefined),
      this.config.session_cleanup_interval_seconds * 1000,
    );
    interval.unref();
    this.scheduler.addInterval(JOB, interval);
  }

  onModuleDestroy(): void {
    if (this.scheduler.doesExist('interval', JOB)) this.scheduler.deleteInterval(JOB);
  }

  /** Runs one sweep; a sweep already in progress is joined rather than started twice. */
  async sweep(): Promise<number> {
    return (await this.run()).removed;
  }

  /**
   * Runs (or joins) one sweep over every tenant and answers how many of the sessions it
   * removed were `tenant`'s: a caller learns nothing about other tenants' sessions.
   */
  async sweepFor(tenant: string): Promise<number> {
    return (await this.run()).byTenant.get(tenant) ?? 0;
  }

  private run(): Promise<SweepTally> {
    this.running ??= this.store
      .cleanupExpiredByTenant()
      .then((tally) => {
        const { removed } = tally;
        this.logger.log({ removed }, `session cleanup removed ${removed} expired session(s)`);
        return tally;
      })
      .catch((err: unknown) => {
        this.logger.error({ err }, 'session cleanup failed');
        throw err;
      })
      .finally(() => (this.running = null));
    return this.running;
  }
}
