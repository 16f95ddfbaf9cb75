import { Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { connectRedis } from '../backends/redis-connection';
import { BackendUnavailableError } from '../backends/session-backend';
import { HeldLock, LockPhase, SessionLocks } from './session-locks';

/**
 * The lock's value is `<phase>:<token>`. Refresh and release compare the token, so a holder
 * whose lease ran out (and was taken over) can neither extend nor free the new holder's lock.
 */
const REFRESH_SCRIPT = `
local value = redis.call('GET', KEYS[1])
if not value or string.sub(value, string.find(value, ':', 1, true) + 1) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2] .. ':' .. ARGV[1], 'PX', ARGV[3])
return 1`;

const RELEASE_SCRIPT = `
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, string.find(value, ':', 1, true) + 1) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`;

/** KEYS/ARGV of REFRESH_SCRIPT, by name. */
export const refreshArgv = (a: { key: string; token: string; phase: LockPhase; leaseMs: number }): [number, string, string, string, number] => [
  1,
  a.key,
  a.token,
  a.phase,
  a.leaseMs,
];

/** KEYS/ARGV of RELEASE_SCRIPT, by name. */
export const releaseArgv = (a: { key: string; token: string }): [number, string, string] => [1, a.key, a.token];

export interface RedisSessionLocksOptions {
  url: string;
  /** Redis Cluster seed nodes, as for the session backend. */
  clusterNodes?: string[];
  /** Default "riptide:", the session backend's. */
  prefix?: string;
}

/**
 * Session locks in Redis, shared by every API instance: acquire is SET NX PX, refresh and
 * release are compare-token scripts. Each lock is one key, hash-tagged per session
 * (`{tenant:sid}`, like the session's own keys), so it works on a Cluster. Its own connection,
 * failing fast like the backend's: while Redis is away a connect gets 503.
 */
export class RedisSessionLocks implements SessionLocks, OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(RedisSessionLocks.name);
  private readonly redis: Redis | Cluster;
  private readonly prefix: string;

  constructor(options: RedisSessionLocksOptions) {
    this.prefix = options.prefix ?? 'riptide:';
    this.redis = connectRedis({ ...options, connectTimeoutMs: 2000, connectionName: 'riptide-api:session-locks' });
    this.redis.on('error', (err: Error) => this.logger.debug(`session locks (redis): ${err.message}`));
  }

  /** Waits (bounded) for the first connection, so that the first connect after start does not fail. */
  async onModuleInit(): Promise<void> {
    if (this.redis.status === 'ready') return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      this.redis.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async acquire(tenant: string, id: string, leaseMs: number): Promise<HeldLock | null> {
    const token = randomBytes(16).toString('base64url');
    const set = await this.run(() => this.redis.set(this.key(tenant, id), `connected:${token}`, 'PX', leaseMs, 'NX'));
    return set === 'OK' ? { tenant, id, token } : null;
  }

  async refresh(lock: HeldLock, phase: LockPhase, leaseMs: number): Promise<boolean> {
    const argv = refreshArgv({ key: this.key(lock.tenant, lock.id), token: lock.token, phase, leaseMs });
    return (await this.run(() => this.redis.eval(REFRESH_SCRIPT, ...argv))) === 1;
  }

  async release(lock: HeldLock): Promise<void> {
    const argv = releaseArgv({ key: this.key(lock.tenant, lock.id), token: lock.token });
    await this.run(() => this.redis.eval(RELEASE_SCRIPT, ...argv));
  }

  async phase(tenant: string, id: string): Promise<LockPhase | null> {
    const value = await this.run(() => this.redis.get(this.key(tenant, id)));
    return value === null ? null : (value.slice(0, value.indexOf(':')) as LockPhase);
  }

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }

  private key(tenant: string, id: string): string {
    return `${this.prefix}cdp-lock:{${tenant}:${id}}`;
  }

  private async run<T>(command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new BackendUnavailableError(error as Error);
    }
  }
}
