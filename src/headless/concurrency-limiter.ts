import { RenderError } from './errors';

export type Release = () => void;

type Waiter = (release: Release) => void;

/**
 * At most `maxConcurrent` holders at a time and at most `maxQueue` waiting; beyond that
 * `acquire` fails at once with kind `busy` so that overload is visible to the caller
 * instead of piling up latency.
 *
 * Waiters are queued per key (the API passes an opaque key per tenant) and a freed slot goes
 * to the keys in turn, first come first served within a key: one tenant's backlog delays
 * another tenant's render by at most one slot turn, not by the whole backlog. The queue lives
 * here, where the slots are, so that it is fair across every API instance sharing the renderer.
 */
export class ConcurrencyLimiter {
  private active = 0;
  private waiting = 0;
  /** Map order is the turn order: the key served last moves to the back. */
  private readonly queues = new Map<string, Waiter[]>();
  private idleWaiters: Array<() => void> = [];

  constructor(
    readonly maxConcurrent: number,
    readonly maxQueue: number,
  ) {
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) throw new RangeError('maxConcurrent must be >= 1');
    if (!Number.isInteger(maxQueue) || maxQueue < 0) throw new RangeError('maxQueue must be >= 0');
  }

  get running(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting;
  }

  /**
   * Resolves with a release function once a slot is held. An aborted signal removes a
   * queued caller (rejecting with the signal's reason) without ever taking a slot.
   */
  acquire(signal?: AbortSignal, key = ''): Promise<Release> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.active < this.maxConcurrent) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting >= this.maxQueue) {
      return Promise.reject(new RenderError('busy', `renderer busy: ${this.active} running, ${this.waiting} queued`));
    }
    return new Promise<Release>((resolve, reject) => {
      const onAbort = (): void => {
        this.dequeue(key, waiter);
        this.notifyIfIdle();
        reject(signal?.reason);
      };
      const waiter: Waiter = (release) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(release);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const queue = this.queues.get(key);
      if (queue) queue.push(waiter);
      else this.queues.set(key, [waiter]);
      this.waiting++;
    });
  }

  /** Resolves when nothing is running or queued, or after `timeoutMs`; true if idle. */
  async whenIdle(timeoutMs: number): Promise<boolean> {
    if (this.isIdle()) return true;
    let timer: NodeJS.Timeout | undefined;
    let onIdle: () => void = () => undefined;
    const idle = new Promise<boolean>((resolve) => {
      onIdle = () => resolve(true);
      this.idleWaiters.push(onIdle);
    });
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([idle, timeout]);
    } finally {
      clearTimeout(timer);
      this.idleWaiters = this.idleWaiters.filter((w) => w !== onIdle);
    }
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.nextWaiter();
      if (next) {
        // The slot passes straight to the next waiter, so `active` stays the same.
        next(this.releaser());
      } else {
        this.active--;
        this.notifyIfIdle();
      }
    };
  }

  /** The first waiter of the key whose turn it is; that key then goes to the back. */
  private nextWaiter(): Waiter | undefined {
    for (const [key, queue] of this.queues) {
      this.queues.delete(key);
      const next = queue.shift();
      if (queue.length > 0) this.queues.set(key, queue);
      if (next) {
        this.waiting--;
        return next;
      }
    }
    return undefined;
  }

  private dequeue(key: string, waiter: Waiter): void {
    const queue = this.queues.get(key);
    const at = queue?.indexOf(waiter) ?? -1;
    if (!queue || at < 0) return;
    queue.splice(at, 1);
    this.waiting--;
    if (queue.length === 0) this.queues.delete(key);
  }

  private isIdle(): boolean {
    return this.active === 0 && this.waiting === 0;
  }

  private notifyIfIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
