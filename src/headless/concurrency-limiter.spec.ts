import { ConcurrencyLimiter } from './concurrency-limiter';
import { RenderError } from './errors';

describe('ConcurrencyLimiter', () => {
  it('runs up to maxConcurrent at once and queues up to maxQueue in order', async () => {
    const limiter = new ConcurrencyLimiter(2, 2);
    const r1 = await limiter.acquire();
    const r2 = await limiter.acquire();
    const order: number[] = [];
    const q3 = limiter.acquire().then((r) => (order.push(3), r));
    const q4 = limiter.acquire().then((r) => (order.push(4), r));
    expect([limiter.running, limiter.queued]).toEqual([2, 2]);

    r1();
    const r3 = await q3;
    expect([limiter.running, limiter.queued]).toEqual([2, 1]);
    r2();
    const r4 = await q4;
    expect(order).toEqual([3, 4]);
    r3();
    r4();
    expect([limiter.running, limiter.queued]).toEqual([0, 0]);
  });

  it('fails fast with kind busy when running and queue are full', async () => {
    const limiter = new ConcurrencyLimiter(1, 0);
    const release = await limiter.acquire();
    await expect(limiter.acquire()).rejects.toMatchObject({ kind: 'busy' });
    await expect(limiter.acquire()).rejects.toBeInstanceOf(RenderError);
    release();
    (await limiter.acquire())();
  });

  it('ignores a second release of the same slot', async () => {
    const limiter = new ConcurrencyLimiter(1, 1);
    const release = await limiter.acquire();
    release();
    release();
    expect(limiter.running).toBe(0);
  });

  it('removes an aborted waiter from the queue without taking a slot', async () => {
    const limiter = new ConcurrencyLimiter(1, 1);
    const release = await limiter.acquire();
    const ctrl = new AbortController();
    const waiting = limiter.acquire(ctrl.signal);
    ctrl.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
    expect(limiter.queued).toBe(0);
    release();
    expect(limiter.running).toBe(0);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const limiter = new ConcurrencyLimiter(1, 1);
    const ctrl = new AbortController();
    ctrl.abort(new Error('late'));
    await expect(limiter.acquire(ctrl.signal)).rejects.toThrow('late');
    expect(limiter.running).toBe(0);
  });

  it('whenIdle resolves true once drained, false on timeout', async () => {
    const limiter = new ConcurrencyLimiter(1, 1);
    expect(await limiter.whenIdle(10)).toBe(true);
    const release = await limiter.acquire();
    expect(await limiter.whenIdle(10)).toBe(false);
    const idle = limiter.whenIdle(1000);
    release();
    expect(await idle).toBe(true);
  });

  it('serves the queues of different keys in turn, each in arrival order', async () => {
    const limiter = new ConcurrencyLimiter(1, 10);
    const first = await limiter.acquire(undefined, 'a');
    const order: string[] = [];
    const queued = ['a1', 'a2', 'a3', 'b1', 'c1', 'b2'].map((name) =>
      limiter.acquire(undefined, name[0]).then((release) => {
        order.push(name);
        release();
      }),
    );
    expect(limiter.queued).toBe(6);
    first();
    await Promise.all(queued);
    // FIFO would give a1 a2 a3 b1 c1 b2: b and c would wait behind all of a's backlog.
    expect(order).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3']);
    expect([limiter.running, limiter.queued]).toEqual([0, 0]);
  });

  it('counts the queue bound over all keys, and an aborted waiter leaves its key', async () => {
    const limiter = new ConcurrencyLimiter(1, 2);
    const release = await limiter.acquire(undefined, 'a');
    const ctrl = new AbortController();
    const aborted = limiter.acquire(ctrl.signal, 'a');
    const b = limiter.acquire(undefined, 'b');
    await expect(limiter.acquire(undefined, 'c')).rejects.toMatchObject({ kind: 'busy' });
    ctrl.abort(new Error('gone'));
    await expect(aborted).rejects.toThrow('gone');
    expect(limiter.queued).toBe(1);
    release();
    (await b)();
    expect([limiter.running, limiter.queued]).toEqual([0, 0]);
  });

  it('rejects invalid limits', () => {
    expect(() => new ConcurrencyLimiter(0, 0)).toThrow(RangeError);
    expect(() => new ConcurrencyLimiter(1, -1)).toThrow(RangeError);
  });
});
