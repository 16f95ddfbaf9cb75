import { MemorySessionBackend } from './memory-session.backend';
import { NewSession } from '../session';

const limits = { maxSessions: 1_000_000, maxPerTenant: 1_000_000, maxBytesPerTenant: 1 << 30 };
const T0 = Date.UTC(2026, 0, 1);
const session = (id: string, ttlSeconds = 60, maxRequests = 0): NewSession => ({
  tenant: 't',
  id,
  config: { ttlSeconds, autoRenew: true, maxRequests, trackMetrics: true },
});

describe('MemorySessionBackend', () => {
  let backend: MemorySessionBackend;
  beforeEach(() => (backend = new MemorySessionBackend()));

  it('admits exactly max_requests of 1000 concurrent reservations', async () => {
    await backend.create(session('s', 60, 25), limits, T0);
    const outcomes = await Promise.all(Array.from({ length: 1000 }, () => backend.reserveRequest('t', 's', T0)));
    expect(outcomes.filter((o) => o.kind === 'reserved')).toHaveLength(25);
    expect(outcomes.filter((o) => o.kind === 'limit')).toHaveLength(975);
    expect((await backend.get('t', 's', T0))?.requestCount).toBe(25);
  });

  it('creates a missing session once when concurrent reservations race to create it', async () => {
    const create = { init: session('new', 60, 5), limits };
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => backend.reserveRequest('t', 'new', T0, create)));
    expect(outcomes.filter((o) => o.kind === 'reserved' && o.created)).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === 'reserved')).toHaveLength(5);
    expect((await backend.metrics(T0)).createdTotal).toBe(1);
  });

  it('sweeps in slices, yielding to the event loop', async () => {
    for (let i = 0; i < 20_000; i++) await backend.create(session(`s${i}`, 1), limits, T0);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 0);
    const removed = await backend.sweep(T0 + 1000);
    clearInterval(ticker);
    expect(removed).toBe(20_000);
    expect(ticks).toBeGreaterThan(0);
  });

  it('does not sweep a session renewed into a later second, nor count it twice', async () => {
    await backend.create(session('hot', 2), limits, T0);
    for (let t = 500; t <= 3000; t += 500) await backend.touch('t', 'hot', T0 + t);
    expect(await backend.sweep(T0 + 4000)).toBe(0);
    expect(await backend.sweep(T0 + 5000)).toBe(1);
    expect(await backend.sweep(T0 + 9000)).toBe(0);
  });

  describe('expiry index', () => {
    /** Entries in the expiry index: what issue 7 bounds (one per live session). */
    const indexed = (): number =>
      [...(backend as unknown as { buckets: Map<number, unknown[]> }).buckets.values()].reduce((n, filed) => n + filed.length, 0);

    it('holds one entry per session however often sessions are renewed (fake clock, 2000 s)', async () => {
      const ids = Array.from({ length: 100 }, (_, i) => `hot${i}`);
      for (const id of ids) await backend.create(session(id, 60), limits, T0);
      let most = 0;
      for (let second = 1; second <= 2000; second++) {
        const now = T0 + second * 1000 + (second % 7) * 100; // renewals land in a new bucket each second
        for (const id of ids) await backend.touch('t', id, now);
        if (second % 10 === 0) await backend.sweep(now);
        most = Math.max(most, indexed());
      }
      // Re-filing at every renewal into a new second kept each old filing until its second came
      // due (a filing per session per second of its ttl: thousands here); one each now.
      expect(most).toBe(100);
      expect((await backend.metrics(T0 + 2000 * 1000)).activeSessions).toBe(100);
      expect(await backend.sweep(T0 + 2100 * 1000)).toBe(100);
      expect(indexed()).toBe(0);
    });

    it('files a shortened expiry at once, without growing, and sweeps it on time', async () => {
      await backend.create(session('short', 3600), limits, T0);
      for (let ttl = 3000; ttl >= 10; ttl -= 10) await backend.update('t', 'short', T0, { ttlSeconds: ttl }, limits.maxBytesPerTenant);
      expect(indexed()).toBe(1);
      expect(await backend.sweep(T0 + 9999)).toBe(0);
      expect(await backend.sweep(T0 + 10_000)).toBe(1);
      expect(indexed()).toBe(0);
    });

    it('takes a removed session out of the index at once', async () => {
      for (let i = 0; i < 1000; i++) {
        await backend.create(session(`churn${i}`, 3600), limits, T0);
        await backend.remove('t', `churn${i}`, T0);
      }
      await backend.create(session('kept', 3600), limits, T0);
      expect(indexed()).toBe(1);
    });

    it('keeps one entry per session when operations run while a sweep yields', async () => {
      for (let i = 0; i < 3000; i++) await backend.create(session(`s${i}`, i % 2 ? 1 : 2), limits, T0);
      const sweeping = backend.sweep(T0 + 1000);
      // While it yields: renew some due ones, remove others, shorten a long one.
      for (let i = 0; i < 3000; i += 3) await backend.touch('t', `s${i}`, T0 + 999);
      for (let i = 1; i < 3000; i += 3) await backend.remove('t', `s${i}`, T0 + 999);
      await backend.update('t', 's2', T0 + 999, { ttlSeconds: 1 }, limits.maxBytesPerTenant);
      await sweeping;
      const live = (await backend.metrics(T0 + 1000)).activeSessions;
      expect(indexed()).toBe(live);
    });
  });

  it('returns snapshots that later updates do not change', async () => {
    await backend.create(session('snap'), limits, T0);
    const before = await backend.get('t', 'snap', T0);
    await backend.update('t', 'snap', T0, { metadata: { a: 'b' } }, limits.maxBytesPerTenant);
    await backend.reserveRequest('t', 'snap', T0);
    expect(before?.metadata).toEqual({});
    expect(before?.requestCount).toBe(0);
  });
});
