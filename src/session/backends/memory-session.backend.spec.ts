import { MemorySessionBackend } from './memory-session.backend';
import { NewSession } from '../session';

const limits = { maxSessions: 1_000_000, maxPerTenant: 1_000_000 };
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

  it('returns snapshots that later updates do not change', async () => {
    await backend.create(session('snap'), limits, T0);
    const before = await backend.get('t', 'snap', T0);
    await backend.update('t', 'snap', T0, { metadata: { a: 'b' } });
    await backend.reserveRequest('t', 'snap', T0);
    expect(before?.metadata).toEqual({});
    expect(before?.requestCount).toBe(0);
  });
});
