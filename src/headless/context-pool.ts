/** What the pool needs of a Playwright BrowserContext (kept minimal so the pool is testable alone). */
export interface PooledContext {
  close(): Promise<void>;
  on(event: 'close', listener: () => void): unknown;
}

export interface ContextLease<C> {
  context: C;
  /** True when the context existed before this lease (warm): its state was kept, not restored. */
  reused: boolean;
  release(): void;
}

export interface ContextPoolOptions<C, S> {
  /** Creates a context for a session, restoring `restore` (a storage state) when given. */
  create: (restore: S | undefined) => Promise<C>;
  maxContexts: number;
  idleMs: number;
  now?: () => number;
  /** Reports a context that failed to close; closing is best effort and never throws. */
  onCloseError?: (key: string, error: unknown) => void;
}

interface Entry<C> {
  ready: Promise<C>;
  users: number;
  lastUsed: number;
}

/**
 * One browser context per context key, kept warm between renders. Least-recently-used
 * idle contexts are evicted beyond `maxContexts`, and idle ones closed by `sweep()`. A
 * context that is in use is never closed under a render: a session that is removed or
 * evicted while rendering is detached from the pool and closed when its last lease ends.
 */
export class ContextPool<C extends PooledContext, S = unknown> {
  // Map iteration order is insertion order; re-inserting on use keeps it LRU-first.
  private readonly entries = new Map<string, Entry<C>>();
  private readonly now: () => number;

  constructor(private readonly options: ContextPoolOptions<C, S>) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** The session's context, created (with `restore`) if it has none. Call `release` when done. */
  async lease(key: string, restore?: S): Promise<ContextLease<C>> {
    const entry = this.entries.get(key);
    return entry ? this.enter(key, entry, true) : this.enter(key, this.createEntry(key, restore), false);
  }

  /**
   * The session's context if it has one (decided in the caller's turn, as lease's creation is);
   * null, creating nothing, if not: for a render that left out the state to restore (state_omitted).
   */
  async leaseWarm(key: string): Promise<ContextLease<C> | null> {
    const entry = this.entries.get(key);
    return entry ? this.enter(key, entry, true) : null;
  }

  private async enter(key: string, entry: Entry<C>, reused: boolean): Promise<ContextLease<C>> {
    this.entries.delete(key);
    this.entries.set(key, entry);
    entry.users++;
    entry.lastUsed = this.now();
    this.trim();

    let context: C;
    try {
      context = await entry.ready;
    } catch (error) {
      entry.users--;
      if (this.entries.get(key) === entry) this.entries.delete(key);
      throw error;
    }

    const held = entry;
    let released = false;
    return {
      context,
      reused,
      release: () => {
        if (released) return;
        released = true;
        held.users--;
        held.lastUsed = this.now();
        if (this.entries.get(key) !== held) {
          if (held.users === 0) this.closeEntry(key, held);
        } else {
          this.trim();
        }
      },
    };
  }

  /** Forgets the session's context; closes it now, or after the renders using it finish. */
  remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    if (entry.users === 0) this.closeEntry(key, entry);
  }

  /** Closes contexts idle for longer than `idleMs`. */
  sweep(): void {
    const cutoff = this.now() - this.options.idleMs;
    for (const [id, entry] of this.entries) {
      if (entry.users === 0 && entry.lastUsed <= cutoff) {
        this.entries.delete(id);
        this.closeEntry(id, entry);
      }
    }
  }

  /** Drops every entry without closing: for when the browser (and so every context) is gone. */
  clear(): void {
    this.entries.clear();
  }

  /** Closes every context, in use or not (shutdown). */
  async closeAll(): Promise<void> {
    const all = [...this.entries];
    this.entries.clear();
    await Promise.all(all.map(([id, entry]) => this.closeEntry(id, entry)));
  }

  private createEntry(key: string, restore: S | undefined): Entry<C> {
    const entry: Entry<C> = { ready: this.options.create(restore), users: 0, lastUsed: this.now() };
    // A context that dies on its own (browser crash, closed elsewhere) must not be handed out again.
    entry.ready.then(
      (context) =>
        context.on('close', () => {
          if (this.entries.get(key) === entry) this.entries.delete(key);
        }),
      () => undefined,
    );
    return entry;
  }

  private trim(): void {
    if (this.entries.size <= this.options.maxContexts) return;
    for (const [id, entry] of this.entries) {
      if (this.entries.size <= this.options.maxContexts) break;
      if (entry.users > 0) continue;
      this.entries.delete(id);
      this.closeEntry(id, entry);
    }
  }

  private async closeEntry(key: string, entry: Entry<C>): Promise<void> {
    let context: C;
    try {
      context = await entry.ready;
    } catch {
      return; // never created, so nothing to close; its lease already reported the failure
    }
    try {
      await context.close();
    } catch (error) {
      this.options.onCloseError?.(key, error);
    }
  }
}
