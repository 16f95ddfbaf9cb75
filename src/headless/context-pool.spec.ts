import { ContextPool, PooledContext } from './context-pool';

class FakeContext implements PooledContext {
  closed = 0;
  private readonly listeners: Array<() => void> = [];
  constructor(readonly restored: string | undefined) {}
  async close(): Promise<void> {
    this.closed++;
    this.listeners.forEach((l) => l());
  }
  on(_event: 'close', listener: () => void): void {
    this.listeners.push(listener);
  }
}

function setup(maxContexts = 2, idleMs = 1000) {
  let clock = 0;
  const created: FakeContext[] = [];
  const pool = new ContextPool<FakeContext, string>({
    create: async (restore) => {
      const c = new FakeContext(restore);
      created.push(c);
      return c;
    },
    maxContexts,
    idleMs,
    now: () => clock,
  });
  return { pool, created, advance: (ms: number) => (clock += ms) };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('ContextPool', () => {
  it('creates a context once per session, restoring state only when cold', async () => {
    const { pool, created } = setup();
    const a = await pool.lease('s1', 'state-1');
    expect(a.reused).toBe(false);
    expect(a.context.restored).toBe('state-1');
    a.release();
    const b = await pool.lease('s1', 'state-2');
    expect(b.reused).toBe(true);
    expect(b.context).toBe(a.context);
    expect(created).toHaveLength(1);
  });

  it('leaseWarm leases an existing context (keeping it in use) and creates none', async () => {
    const { pool, created, advance } = setup(2, 1000);
    expect(await pool.leaseWarm('s1')).toBeNull();
    expect(created).toHaveLength(0);
    expect(pool.has('s1')).toBe(false);

    (await pool.lease('s1', 'state-1')).release();
    const warm = await pool.leaseWarm('s1');
    expect(warm?.reused).toBe(true);
    expect(warm?.context).toBe(created[0]);
    advance(5000);
    pool.sweep();
    expect(created[0].closed).toBe(0); // in use: not swept
    warm?.release();
    pool.sweep(); // released just now: not idle long enough
    expect(created[0].closed).toBe(0);
    expect(created).toHaveLength(1);
  });

  it('shares one creation between concurrent cold leases', async () => {
    const { pool, created } = setup();
    const [a, b] = await Promise.all([pool.lease('s1'), pool.lease('s1')]);
    expect(a.context).toBe(b.context);
    expect([a.reused, b.reused]).toEqual([false, true]);
    expect(created).toHaveLength(1);
  });

  it('evicts the least recently used idle context beyond the limit', async () => {
    const { pool, created } = setup(2);
    (await pool.lease('a')).release();
    (await pool.lease('b')).release();
    (await pool.lease('a')).release(); // a is now the most recent
    (await pool.lease('c')).release();
    await flush();
    expect(pool.has('b')).toBe(false);
    expect(created[1].closed).toBe(1);
    expect(pool.has('a') && pool.has('c')).toBe(true);
  });

  it('never evicts a context in use; trims once it is released', async () => {
    const { pool } = setup(1);
    const a = await pool.lease('a');
    const b = await pool.lease('b');
    expect(pool.size).toBe(2);
    expect(a.context.closed).toBe(0);
    a.release();
    await flush();
    expect(a.context.closed).toBe(1);
    expect(pool.size).toBe(1);
    b.release();
  });

  it('sweeps contexts idle longer than idleMs', async () => {
    const { pool, advance } = setup(10, 1000);
    const a = await pool.lease('a');
    a.release();
    const b = await pool.lease('b');
    advance(1500);
    pool.sweep();
    await flush();
    expect(a.context.closed).toBe(1);
    expect(pool.has('a')).toBe(false);
    expect(pool.has('b')).toBe(true); // in use
    b.release();
  });

  it('remove() closes an idle context now and a busy one when its lease ends', async () => {
    const { pool } = setup();
    const idle = await pool.lease('idle');
    idle.release();
    pool.remove('idle');
    const busy = await pool.lease('busy');
    pool.remove('busy');
    await flush();
    expect(idle.context.closed).toBe(1);
    expect(busy.context.closed).toBe(0);
    expect(pool.has('busy')).toBe(false);
    const fresh = await pool.lease('busy');
    expect(fresh.reused).toBe(false);
    busy.release();
    await flush();
    expect(busy.context.closed).toBe(1);
    expect(fresh.context.closed).toBe(0);
  });

  it('forgets a context that closed on its own', async () => {
    const { pool } = setup();
    const a = await pool.lease('a');
    a.release();
    await a.context.close();
    expect(pool.has('a')).toBe(false);
  });

  it('does not keep a failed creation', async () => {
    let fail = true;
    const pool = new ContextPool<FakeContext>({
      create: async () => {
        if (fail) throw new Error('bad state');
        return new FakeContext(undefined);
      },
      maxContexts: 2,
      idleMs: 1000,
    });
    await expect(pool.lease('a')).rejects.toThrow('bad state');
    expect(pool.size).toBe(0);
    fail = false;
    expect((await pool.lease('a')).reused).toBe(false);
  });

  it('closeAll closes everything', async () => {
    const { pool } = setup();
    const a = await pool.lease('a');
    (await pool.lease('b')).release();
    await pool.closeAll();
    expect(pool.size).toBe(0);
    expect(a.context.closed).toBe(1);
  });
});
