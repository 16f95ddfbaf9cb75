import { ConflictException } from '@nestjs/common';

/**
 * What a session's connection lock says: a client is `connected` over CDP, or its connection
 * ended and the browser state is being `saving` to the session (a render waits for that).
 */
export type LockPhase = 'connected' | 'saving';

/** A lock this instance holds; `token` tells it from a later holder's. */
export interface HeldLock {
  readonly tenant: string;
  readonly id: string;
  readonly token: string;
}

/** Injection token for the configured SessionLocks (memory or Redis, as the session backend). */
export const SESSION_LOCKS = Symbol('SESSION_LOCKS');

/**
 * One exclusive lock per session (its CDP connection), kept where the sessions are so that
 * every API instance sees it, with a lease: the holder refreshes it while connected, and a
 * holder that dies (kill -9, partition) frees it when the lease runs out. A clean disconnect
 * releases it at once, after the state is saved.
 */
export interface SessionLocks {
  /** Takes the lock (phase `connected`) for `leaseMs`; null when someone holds it. */
  acquire(tenant: string, id: string, leaseMs: number): Promise<HeldLock | null>;
  /** Renews the lease and sets the phase; false when the lock is no longer this holder's. */
  refresh(lock: HeldLock, phase: LockPhase, leaseMs: number): Promise<boolean>;
  /** Frees the lock if it is still this holder's. */
  release(lock: HeldLock): Promise<void>;
  /** The phase of the session's lock, or null when nobody holds it. */
  phase(tenant: string, id: string): Promise<LockPhase | null>;
}

/** 409 for a second connection, and for a render of a connected session. */
export const sessionInUse = (id: string): ConflictException =>
  new ConflictException(`session in use: session '${id}' has a CDP connection`);

/** How long a render waits for a disconnected session's state to be saved before it gets 409. */
export const SAVE_WAIT_MS = 15_000;
/**
 * How long a render waits while the session still looks connected: a client that has just
 * closed its socket (Playwright's browser.close() resolves then) may send its next request
 * before the API has noticed the close and begun saving.
 */
export const CLOSING_GRACE_MS = 1000;
const POLL_MS = 25;

/**
 * Runs `take` until it gives something, while the session's lock is held by a connection that
 * is ending: after its save (so the caller sees what the client did). 409 while a client stays
 * connected past CLOSING_GRACE_MS, or when a save takes longer than SAVE_WAIT_MS.
 */
export async function whenSessionFree<T>(locks: SessionLocks, tenant: string, id: string, take: () => Promise<T | null>): Promise<T> {
  const started = Date.now();
  for (;;) {
    const taken = await take();
    if (taken !== null) return taken;
    const phase = await locks.phase(tenant, id);
    if (phase !== null && Date.now() - started >= (phase === 'connected' ? CLOSING_GRACE_MS : SAVE_WAIT_MS)) {
      throw sessionInUse(id);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Lets a render of the session go ahead once nobody holds its lock (see whenSessionFree). */
export async function awaitSessionFree(locks: SessionLocks, tenant: string, id: string): Promise<void> {
  await whenSessionFree(locks, tenant, id, async () => ((await locks.phase(tenant, id)) === null ? true : null));
}
