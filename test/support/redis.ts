import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import Redis from 'ioredis';
import { RedisSessionBackend, RedisSessionBackendOptions } from '../../src/session/backends/redis-session.backend';

/** The shared Redis the suites use (CI starts one); each test file takes its own database. */
export const REDIS_HOST = '127.0.0.1';
export const REDIS_PORT = 6379;
export const redisUrl = (db: number, port = REDIS_PORT): string => `redis://${REDIS_HOST}:${port}/${db}`;

const silent = { log() {}, error() {}, warn() {}, debug() {}, verbose() {} };

let namespaces = 0;

/**
 * A fresh, empty backend: its own key prefix inside database `db`, so files and tests never
 * see each other's keys. `dispose` closes it and deletes exactly the keys under its prefix.
 */
export function redisNamespace(db: number, label: string): { prefix: string; url: string } {
  return { prefix: `rt-test:${label}:${process.pid}:${++namespaces}:`, url: redisUrl(db) };
}

export async function createRedisBackend(
  db: number,
  label: string,
  options: Partial<RedisSessionBackendOptions> = {},
): Promise<RedisSessionBackend> {
  const ns = redisNamespace(db, label);
  const backend = new RedisSessionBackend({ url: ns.url, prefix: ns.prefix, logger: silent, ...options });
  await backend.ready();
  return backend;
}

/** Deletes every key under `prefix` in database `db` (SCAN, never KEYS or FLUSHDB). */
export async function deleteKeys(db: number, prefix: string, port = REDIS_PORT): Promise<void> {
  const redis = new Redis(redisUrl(db, port), { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export async function disposeRedisBackend(backend: RedisSessionBackend, db: number): Promise<void> {
  await backend.close();
  await deleteKeys(db, backend.keyPrefix);
}

export const silentLogger = silent;

export function redisServerAvailable(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: REDIS_HOST, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A throwaway redis-server on its own port, that a test can stop and start again. */
export class RedisServerProcess {
  private child: ChildProcess | null = null;

  constructor(readonly port: number) {}

  get url(): string {
    return redisUrl(0, this.port);
  }

  async start(): Promise<void> {
    if (this.child) return;
    if (await portAnswers(this.port)) throw new Error(`port ${this.port} is already in use`);
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', REDIS_HOST, '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
      stdio: 'ignore',
    });
    const deadline = Date.now() + 5000;
    while (!(await portAnswers(this.port))) {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not start`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** SIGKILL: the server vanishes the way a crashed or partitioned one does. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
  }
}
