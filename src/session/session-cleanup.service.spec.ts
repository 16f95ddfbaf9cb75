import { Logger } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { loadConfig } from '../config/app-config';
import { SessionCleanupService } from './session-cleanup.service';
import type { SessionStore, SweepTally } from './session.store';

describe('SessionCleanupService', () => {
  const config = loadConfig({ env: {}, overrides: { session_cleanup_interval_seconds: 7 } });
  let scheduler: SchedulerRegistry;
  let sweeps: number;
  let release: (() => void) | null;
  const store = {
    cleanupExpiredByTenant: () =>
      new Promise<SweepTally>((resolve) => {
        sweeps++;
        release = () => resolve({ removed: 3, byTenant: new Map([['alpha', 2], ['beta', 1]]) });
      }),
  } as unknown as SessionStore;

  beforeAll(() => Logger.overrideLogger(false));

  beforeEach(() => {
    jest.useFakeTimers();
    scheduler = new SchedulerRegistry();
    sweeps = 0;
    release = null;
  });
  afterEach(() => jest.useRealTimers());

  it('registers its interval with the configured period and sweeps on it', () => {
    const service = new SessionCleanupService(store, scheduler, config);
    service.onApplicationBootstrap();
    expect(scheduler.getIntervals()).toEqual(['session-cleanup']);
    jest.advanceTimersByTime(6999);
    expect(sweeps).toBe(0);
    jest.advanceTimersByTime(1);
    expect(sweeps).toBe(1);
    service.onModuleDestroy();
    expect(scheduler.getIntervals()).toEqual([]);
  });

  it('survives a failing scheduled sweep (backend unavailable): logged, never an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const failing = {
        cleanupExpiredByTenant: () => Promise.reject(new Error('session backend unavailable')),
      } as unknown as SessionStore;
      const service = new SessionCleanupService(failing, scheduler, config);
      service.onApplicationBootstrap();
      jest.advanceTimersByTime(7000);
      jest.useRealTimers();
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
      service.onModuleDestroy();
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('joins a sweep in progress instead of starting a second one', async () => {
    const service = new SessionCleanupService(store, scheduler, config);
    const first = service.sweep();
    const second = service.sweep();
    expect(sweeps).toBe(1);
    release!();
    await expect(first).resolves.toBe(3);
    await expect(second).resolves.toBe(3);
    void service.sweep();
    expect(sweeps).toBe(2);
  });

  it("answers a tenant's caller with its own share of the (joined) sweep only", async () => {
    const service = new SessionCleanupService(store, scheduler, config);
    const all = service.sweep();
    const alpha = service.sweepFor('alpha');
    const gamma = service.sweepFor('gamma');
    expect(sweeps).toBe(1);
    release!();
    await expect(all).resolves.toBe(3);
    await expect(alpha).resolves.toBe(2);
    await expect(gamma).resolves.toBe(0);
  });
});
