import { randomBytes } from 'node:crypto';
import { Clock } from '../../common/clock';
import { HeldLock, LockPhase, SessionLocks } from './session-locks';

interface Entry {
  token: string;
  phase: LockPhase;
  expiresAt: number;
}

/** Session locks of one API instance (the memory backend's sessions are one instance's too). */
export class MemorySessionLocks implements SessionLocks {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly clock: Clock) {}

  async acquire(tenant: string, id: string, leaseMs: number): Promise<HeldLock | null> {
    const key = lockKey(tenant, id);
    if (this.live(key)) return null;
    const token = randomBytes(16).toString('base64url');
    this.entries.set(key, { token, phase: 'connected', expiresAt: this.clock.now() + leaseMs });
    return { tenant, id, token };
  }

  async refresh(lock: HeldLock, phase: LockPhase, leaseMs: number): Promise<boolean> {
    const entry = this.live(lockKey(lock.tenant, lock.id));
    if (entry?.token !== lock.token) return false;
    entry.phase = phase;
    entry.expiresAt = this.clock.now() + leaseMs;
    return true;
  }

  async release(lock: HeldLock): Promise<void> {
    const key = lockKey(lock.tenant, lock.id);
    if (this.entries.get(key)?.token === lock.token) this.entries.delete(key);
  }

  async phase(tenant: string, id: string): Promise<LockPhase | null> {
    return this.live(lockKey(tenant, id))?.phase ?? null;
  }

  private live(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= this.clock.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }
}

const lockKey = (tenant: string, id: string): string => `${tenant}\0${id}`;
