/**
 * What the Redis backend must do beyond the shared behaviour suite (DESIGN §4): atomic limits
 * across instances, one round trip per operation, NOSCRIPT recovery, survival of an API
 * restart, Redis-side key layout and expiry, and failing fast (503) then recovering by itself
 * when Redis goes away. Uses database 12 of the shared Redis, one key prefix per test, and a
 * private redis-server on port 6390 for the outage tests.
 */
import Redis from 'ioredis';
import { FakeClock } from '../src/common/clock';
import { BUCKET_TAGS, bucketOf } from '../src/session/backends/lua/key-layout';
import { RedisSessionBackend } from '../src/session/backends/redis-session.backend';
import { BackendUnavailableError, CreateOutcome } from '../src/session/backends/session-backend';
import { Session, SessionConfig, SessionRef } from '../src/session/session';
import { SessionStore } from '../src/session/session.store';
import { bootApp, BootedApp } from './support/app';
import {
  deleteKeys,
  redisNamespace,
  RedisServerProcess,
  redisServerAvailable,
  redisUrl,
  silentLogger,
} from './support/redis';

const DB = 12;
const SEC = 1000;
const T0 = Date.UTC(2026, 0, 1);
const CONFIG: SessionConfig = { ttlSeconds: 60, autoRenew: true, maxRequests: 0, trackMetrics: true };
const LIMITS = { maxSessions: 100_000, maxPerTenant: 10_000, maxBytesPerTenant: 1 << 30 };

describe('redis session backend', () => {
  let prefix: string;
  let backends: RedisSessionBackend[];
  let admin: Redis;

  /** Another backend (its own connection) on this test's key space: another API instance. */
  const instance = async (): Promise<RedisSessionBackend> => {
    const backend = new RedisSessionBackend({ url: redisUrl(DB), prefix, logger: silentLogger });
    backends.push(backend);
    await backend.ready();
    return backend;
  };

  beforeAll(async () => {
    admin = new Redis(redisUrl(DB));
  });

  afterAll(async () => {
    await admin.quit();
  });

  /** A number kept per bucket, added up over all buckets. */
  const inBuckets = async (read: (tag: string) => Promise<string | number | null>): Promise<number> =>
    (await Promise.all(BUCKET_TAGS.map(read))).reduce<number>((total, value) => total + Number(value ?? 0), 0);

  beforeEach(() => {
    prefix = redisNamespace(DB, 'backend').prefix;
    backends = [];
  });

  afterEach(async () => {
    await Promise.all(backends.map((b) => b.close()));
    await deleteKeys(DB, prefix);
  });

  it('admits exactly max_requests of 100 concurrent reservations spread over two instances', async () => {
    const [a, b] = [await instance(), await instance()];
    await a.create({ tenant: 't', id: 'race', config: { ...CONFIG, maxRequests: 10 } }, LIMITS, T0);
    const outcomes = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).reserveRequest('t', 'race', T0 + i)),
    );
    expect(outcomes.filter((o) => o.kind === 'reserved')).toHaveLength(10);
    expect(outcomes.filter((o) => o.kind === 'limit')).toHaveLength(90);
    expect((await b.get('t', 'race', T0 + 100))?.requestCount).toBe(10);
    expect((await a.metrics(T0 + 100)).totalRequests).toBe(10);
  });

  it('creates a session once when many instances reserve on an unknown id at the same time', async () => {
    const [a, b] = [await instance(), await instance()];
    const init = { tenant: 't', id: 'fresh', config: CONFIG };
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).reserveRequest('t', 'fresh', T0, { init, limits: LIMITS })),
    );
    expect(outcomes.filter((o) => o.kind === 'reserved' && o.created)).toHaveLength(1);
    expect((await a.get('t', 'fresh', T0))?.requestCount).toBe(40);
    expect((await b.metrics(T0)).createdTotal).toBe(1);
  });

  it('sends one command per request-path operation; a create takes a seat first', async () => {
    // No background re-read of the other buckets' bytes while commands are counted.
    const backend = new RedisSessionBackend({ url: redisUrl(DB), prefix, logger: silentLogger, bytesRefreshMs: Infinity });
    backends.push(backend);
    await backend.ready();
    const sent: { name: string }[] = [];
    const original = (backend.redis as Redis).sendCommand.bind(backend.redis);
    jest.spyOn(backend.redis as Redis, 'sendCommand').mockImplementation((command, stream) => {
      sent.push(command); // its name is final once written (EVALSHA, or EVAL to load the script)
      return original(command, stream);
    });
    const count = async (operation: () => Promise<unknown>): Promise<number> => {
      await operation(); // first use on a connection loads the script (EVAL)
      sent.length = 0;
      await operation();
      return sent.length;
    };
    let fresh = 0;
    const init = { tenant: 't', id: 'rt', config: { ...CONFIG, maxRequests: 0 }, metadata: { a: '1' } };
    const record = { url: 'https://example.com/', renderTimeMs: 12, error: null, storageState: { json: '{"cookies":[]}', seq: 1 } };
    const perOperation = {
      create: await count(() => backend.create(init, LIMITS, T0)),
      get: await count(() => backend.get('t', 'rt', T0)),
      touch: await count(() => backend.touch('t', 'rt', T0)),
      reserveRequest: await count(() => backend.reserveRequest('t', 'rt', T0, { init, limits: LIMITS })),
      reserveRequestCreating: await count(() => {
        const id = `new${++fresh}`;
        return backend.reserveRequest('t', id, T0, { init: { ...init, id }, limits: LIMITS });
      }),
      recordResult: await count(() => backend.recordResult('t', 'rt', T0, record, LIMITS.maxBytesPerTenant)),
      update: await count(() => backend.update('t', 'rt', T0, { metadata: { b: '2', a: null }, ttlSeconds: 30 }, LIMITS.maxBytesPerTenant)),
      storageState: await count(() => backend.storageState('t', 'rt', T0)),
      remove: await count(() => backend.remove('t', 'rt', T0)),
    };
    expect(perOperation).toEqual({
      // Two round trips: the tenant's and the global seat at once, then the create; the two
      // settles that follow are sent without being waited for (lua/session-scripts.ts, seats).
      create: 5,
      get: 1,
      touch: 1,
      reserveRequest: 1,
      // The reservation finds no session: then a seat, and the reservation that creates.
      reserveRequestCreating: 6,
      recordResult: 1,
      update: 1,
      storageState: 1,
      remove: 1,
    });
    expect(sent.map((c) => c.name)).toEqual(['evalsha']);

    // After SCRIPT FLUSH the first call pays one extra round trip (NOSCRIPT, then EVAL), once.
    await admin.script('FLUSH');
    sent.length = 0;
    expect(await backend.get('t', 'rt', T0)).toBeNull();
    expect(sent.map((c) => c.name)).toEqual(['evalsha', 'eval']);
    sent.length = 0;
    await backend.get('t', 'rt', T0);
    expect(sent.map((c) => c.name)).toEqual(['evalsha']);
  });

  it('keeps working across SCRIPT FLUSH in the middle of a run', async () => {
    const [a, b] = [await instance(), await instance()];
    await a.create({ tenant: 't', id: 'flush', config: CONFIG }, LIMITS, T0);
    const operation = async (i: number): Promise<unknown> => {
      const backend = i % 2 ? a : b;
      await backend.reserveRequest('t', 'flush', T0 + i);
      return backend.update('t', 'flush', T0 + i, { metadata: { [`k${i % 50}`]: String(i) } }, LIMITS.maxBytesPerTenant);
    };
    const results: PromiseSettledResult<unknown>[] = [];
    for (let round = 0; round < 4; round++) {
      const batch = Array.from({ length: 50 }, (_, i) => operation(round * 50 + i));
      // Twice the scripts vanish while a batch is in flight, once between batches.
      if (round % 2 === 1) batch.splice(25, 0, admin.script('FLUSH'));
      else if (round === 2) await admin.script('FLUSH');
      results.push(...(await Promise.allSettled(batch)));
    }
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    await admin.script('FLUSH');
    const session = await a.get('t', 'flush', T0 + 300);
    expect(session?.requestCount).toBe(200);
    expect(Object.keys(session!.metadata)).toHaveLength(50);
  });

  it('keeps sessions across an API restart (a new instance reads what the closed one wrote)', async () => {
    const first = await instance();
    await first.create({ tenant: 't', id: 'durable', config: { ...CONFIG, maxRequests: 5 }, metadata: { step: 'login' } }, LIMITS, T0);
    await first.reserveRequest('t', 'durable', T0 + SEC);
    await first.recordResult('t', 'durable', T0 + 2 * SEC, { url: 'https://example.com/in', renderTimeMs: 42, error: null, storageState: { json: '{"cookies":[1]}', seq: 7 } }, LIMITS.maxBytesPerTenant);
    await first.close();
    expect(first.redis.status).toBe('end');

    const second = await instance();
    const session = await second.get('t', 'durable', T0 + 3 * SEC);
    expect(session).toMatchObject({
      createdAt: T0,
      lastAccessed: T0 + 2 * SEC,
      expiresAt: T0 + 62 * SEC,
      requestCount: 1,
      lastUrl: 'https://example.com/in',
      renderTimes: [42],
      metadata: { step: 'login' },
      config: { ttlSeconds: 60, autoRenew: true, maxRequests: 5, trackMetrics: true },
    });
    expect(await second.storageState('t', 'durable', T0 + 3 * SEC)).toEqual({ state: { json: '{"cookies":[1]}', seq: 7 } });
    expect((await second.metrics(T0 + 3 * SEC)).activeSessions).toBe(1);
  });

  it('keeps a session in hash-tagged keys that Redis expires, and leaves nothing behind on remove', async () => {
    const backend = await instance();
    const created = await backend.create({ tenant: 't', id: 's:1', config: { ...CONFIG, ttlSeconds: 30 }, metadata: { a: 'b' } }, LIMITS, T0);
    const { incarnation } = (created as { session: Session }).session;
    await backend.recordResult('t', 's:1', T0, { url: 'https://example.com/', renderTimeMs: 5, error: null, storageState: { json: '{}', seq: 1 } }, LIMITS.maxBytesPerTenant);
    const [sess, meta, times, state] = backend.sessionKeys('t', 's:1');
    const tag = `{${BUCKET_TAGS[bucketOf('t', 's:1')]}}`;
    for (const key of [sess, meta, times, state]) {
      expect(key).toContain(`${tag}:t:s:1`);
      const ttl = await admin.pttl(key);
      // Relative to the caller's clock (expires_at - now) plus the grace, not Redis' clock.
      expect(ttl).toBeGreaterThan(85 * SEC);
      expect(ttl).toBeLessThanOrEqual(90 * SEC);
    }
    expect(await admin.zrange(`${prefix}ids:${tag}:t`, '0', '-1')).toEqual(['s:1']);
    // The member carries what a sweep needs once the hash is gone: created, stored bytes (a+b, url, state), id, tenant, incarnation.
    expect(await admin.zscore(`${prefix}exp:${tag}`, `${T0}|24|s:1|t|${incarnation}`)).toBe(String(T0 + 30 * SEC));

    expect(await backend.remove('t', 's:1', T0 + SEC)).toEqual({ tenant: 't', id: 's:1', incarnation });
    expect(await admin.exists(sess, meta, times, state)).toBe(0);
    expect(await admin.zcard(`${prefix}ids:${tag}:t`)).toBe(0);
    expect(await admin.zcard(`${prefix}exp:${tag}:t`)).toBe(0);
    expect(await admin.zcard(`${prefix}exp:${tag}`)).toBe(0);
  });

  it('sweeps sessions whose keys Redis already expired, without touching a newer one with the same id', async () => {
    const backend = await instance();
    const incarnationOf = (outcome: CreateOutcome): string => (outcome as { session: Session }).session.incarnation;
    // Metadata of 10, 200, 3000 and 40000 bytes: the stored bytes say which sessions still count.
    const bytes = (n: number) => ({ k: 'v'.repeat(n - 1) });
    const old = incarnationOf(
      await backend.create({ tenant: 't', id: 'old', config: { ...CONFIG, ttlSeconds: 10 }, metadata: bytes(10) }, LIMITS, T0),
    );
    const gone = incarnationOf(
      await backend.create({ tenant: 't', id: 'gone', config: { ...CONFIG, ttlSeconds: 10 }, metadata: bytes(200) }, LIMITS, T0),
    );
    await backend.create({ tenant: 't', id: 'live', config: { ...CONFIG, ttlSeconds: 100 }, metadata: bytes(3000) }, LIMITS, T0 + 20 * SEC);
    // Redis' TTL fired for both (as it does shortly after expiry); only the index remembers them.
    await admin.del(...backend.sessionKeys('t', 'old').slice(0, 4), ...backend.sessionKeys('t', 'gone').slice(0, 4));
    // 'old' is reused before any sweep: a new session under the same id.
    const reused = incarnationOf(
      await backend.create({ tenant: 't', id: 'old', config: { ...CONFIG, ttlSeconds: 100 }, metadata: bytes(40000) }, LIMITS, T0 + 30 * SEC),
    );
    expect(reused).not.toBe(old);
    // Until the sweep, the reclaimed sessions' bytes still count (their index members hold them).
    expect(await inBuckets((tag) => admin.hget(`${prefix}stats:{${tag}}:t`, 'bytes'))).toBe(43210);

    // The sweep reports the incarnations it removed, read from the index member (the hash is gone).
    const reported: [SessionRef, boolean][] = [];
    expect(await backend.sweep(T0 + 40 * SEC, (ref, swept) => reported.push([ref, swept]))).toBe(2);
    expect(reported.sort(([a], [b]) => a.id.localeCompare(b.id))).toEqual([
      [{ tenant: 't', id: 'gone', incarnation: gone }, true],
      [{ tenant: 't', id: 'old', incarnation: old }, true],
    ]);
    const metrics = await backend.metrics(T0 + 40 * SEC);
    expect(metrics).toMatchObject({ activeSessions: 2, createdTotal: 4, expiredTotal: 2 });
    expect(metrics.sumCreatedAt).toBe(T0 + 20 * SEC + T0 + 30 * SEC);
    expect(metrics.storedBytes).toBe(43000);
    expect((await backend.metrics(T0 + 40 * SEC, 't')).storedBytes).toBe(43000);
    expect((await backend.get('t', 'old', T0 + 40 * SEC))?.createdAt).toBe(T0 + 30 * SEC);
    expect((await backend.list('t', T0 + 40 * SEC, 10, null)).items.map((s) => s.id)).toEqual(['live', 'old']);
    expect(await inBuckets((tag) => admin.zcard(`${prefix}ids:{${tag}}:t`))).toBe(2);
  });

  it('sweeps in batches and counts every expired session once, with two instances sweeping at once', async () => {
    const [a, b] = [await instance(), await instance()];
    await Promise.all(
      Array.from({ length: 1200 }, (_, i) =>
        a.create({ tenant: `t${i % 3}`, id: `s${i}`, config: { ...CONFIG, ttlSeconds: i < 1100 ? 1 : 100 } }, LIMITS, T0),
      ),
    );
    const [x, y] = await Promise.all([a.sweep(T0 + SEC), b.sweep(T0 + SEC)]);
    expect(x + y).toBe(1100);
    expect(await a.metrics(T0 + SEC)).toMatchObject({ activeSessions: 100, expiredTotal: 1100, sumCreatedAt: 100 * T0 });
    expect(await inBuckets((tag) => admin.zcard(`${prefix}ids:{${tag}}:t0`))).toBe(33); // i in [1100, 1200) with i % 3 === 0
  });

  it('pages past many expired, unswept entries without scanning them all in one call', async () => {
    const backend = await instance();
    await Promise.all(
      Array.from({ length: 1500 }, (_, i) =>
        backend.create({ tenant: 't', id: `a${String(i).padStart(4, '0')}`, config: { ...CONFIG, ttlSeconds: 1 } }, LIMITS, T0),
      ),
    );
    for (const id of ['b1', 'b2', 'b3']) await backend.create({ tenant: 't', id, config: CONFIG }, LIMITS, T0);
    const now = T0 + 2 * SEC;
    const seen: string[] = [];
    let after: string | null = null;
    let calls = 0;
    do {
      const page = await backend.list('t', now, 2, after);
      seen.push(...page.items.map((s) => s.id));
      after = page.after;
      calls++;
    } while (after !== null && calls < 10);
    expect(seen).toEqual(['b1', 'b2', 'b3']);
    expect(calls).toBeGreaterThan(1);
  });

  it('checks capacity atomically: concurrent creates on two instances never pass the cap', async () => {
    const [a, b] = [await instance(), await instance()];
    const limits = { ...LIMITS, maxSessions: 1000, maxPerTenant: 7 };
    const outcomes = await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).create({ tenant: 't', id: `c${i}`, config: CONFIG }, limits, T0)),
    );
    expect(outcomes.filter((o) => o.kind === 'created')).toHaveLength(7);
    expect(outcomes.filter((o) => o.kind === 'tenant_quota')).toHaveLength(23);
    expect((await a.metrics(T0)).activeSessions).toBe(7);
  });
});

const describeOutage = redisServerAvailable() ? describe : describe.skip;

describeOutage('redis session backend when Redis goes away (private redis-server on :6390)', () => {
  const server = new RedisServerProcess(6390);
  let backend: RedisSessionBackend;
  let logged: string[];

  beforeAll(() => server.start());
  afterAll(() => server.stop());

  beforeEach(async () => {
    await server.start();
    logged = [];
    const logger = { ...silentLogger, log: (m: string) => logged.push(`log: ${m}`), warn: (m: string) => logged.push(`warn: ${m}`) };
    backend = new RedisSessionBackend({ url: server.url, prefix: 'outage:', logger, commandTimeoutMs: 300 });
    await backend.ready();
  });

  afterEach(() => backend.close());

  const waitUntil = async (condition: () => Promise<boolean>, timeoutMs: number): Promise<number> => {
    const started = Date.now();
    while (!(await condition())) {
      if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
    return Date.now() - started;
  };
  const pings = (): Promise<boolean> => backend.ping().then(() => true, () => false);

  it('fails fast with BackendUnavailableError while Redis is down, and recovers by itself', async () => {
    await backend.create({ tenant: 't', id: 'x', config: CONFIG }, LIMITS, T0);
    await server.stop();

    const started = Date.now();
    const failures = await Promise.allSettled([
      backend.get('t', 'x', T0),
      backend.reserveRequest('t', 'x', T0),
      backend.create({ tenant: 't', id: 'y', config: CONFIG }, LIMITS, T0),
      backend.sweep(T0),
      backend.ping(),
    ]);
    expect(Date.now() - started).toBeLessThan(500);
    for (const failure of failures) {
      expect(failure.status).toBe('rejected');
      const reason = (failure as PromiseRejectedResult).reason as BackendUnavailableError;
      expect(reason).toBeInstanceOf(BackendUnavailableError);
      expect(reason.getStatus()).toBe(503);
      expect(reason.message).toBe('session backend unavailable');
    }

    await server.start();
    const recoveredIn = await waitUntil(pings, 5000);
    expect(recoveredIn).toBeLessThan(3000);
    // A fresh server (no persistence): the session is gone, and the backend serves again.
    expect(await backend.get('t', 'x', T0)).toBeNull();
    expect((await backend.create({ tenant: 't', id: 'x', config: CONFIG }, LIMITS, T0)).kind).toBe('created');
    // One line when the outage starts, one when it ends, however many reconnection attempts.
    expect(logged).toEqual([
      expect.stringMatching(/^warn: session backend \(redis\) unavailable: .*; reconnecting$/),
      'log: session backend (redis) connected again',
    ]);
  });

  it('times out instead of hanging when Redis stops answering', async () => {
    await backend.create({ tenant: 't', id: 'x', config: CONFIG }, LIMITS, T0);
    const paused = new Redis(server.url);
    // CLIENT PAUSE makes the server hold every command: what a hung Redis looks like.
    await paused.client('PAUSE', 600, 'ALL');
    const started = Date.now();
    await expect(backend.get('t', 'x', T0)).rejects.toBeInstanceOf(BackendUnavailableError);
    expect(Date.now() - started).toBeLessThan(1000);
    await paused.client('UNPAUSE').catch(() => undefined);
    paused.disconnect();
    await waitUntil(() => backend.get('t', 'x', T0).then((s) => s !== null, () => false), 3000);
  });

  it('answers 503 "session backend unavailable" over HTTP, keeps the process up and recovers', async () => {
    const clock = new FakeClock(T0);
    const app: BootedApp = await bootApp(
      { session_backend: 'redis', redis_url: server.url, headless_urls: ['http://127.0.0.1:9'] },
      { clock },
    );
    try {
      expect((await app.inject({ method: 'POST', url: '/v1/sessions', payload: { session_id: 'h' } })).status).toBe(201);
      await server.stop();
      const started = Date.now();
      const down = await app.inject({ url: '/v1/sessions/h' });
      expect(Date.now() - started).toBeLessThan(500);
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable', message: 'session backend unavailable' });
      const put = await app.inject({ method: 'PUT', url: '/v1/sessions/h2' });
      expect(put.status).toBe(503);
      // Readiness is red for the backend too (the renderer here is never healthy).
      const ready = await app.inject({ url: '/health/ready' });
      expect(ready.status).toBe(503);
      expect(ready.body.error?.session_backend).toMatchObject({ status: 'down', backend: 'redis' });
      expect(ready.body.error?.session_backend.message).toMatch(/^unreachable: (ENOTCONN|ECONNREFUSED|ECONNRESET|ETIMEDOUT)$/);

      await server.start();
      await waitUntil(async () => (await app.inject({ method: 'PUT', url: '/v1/sessions/h' })).status === 201, 5000);
      expect((await app.inject({ url: '/v1/sessions/h' })).status).toBe(200);
      const readyAgain = await app.inject({ url: '/health/ready' });
      expect(readyAgain.body.details?.session_backend).toMatchObject({ status: 'up', backend: 'redis' });
    } finally {
      await app.close();
    }
  });

  it('closes its connection when the application shuts down', async () => {
    const app = await bootApp({ session_backend: 'redis', redis_url: server.url, headless_urls: ['http://127.0.0.1:9'] });
    const store = app.app.get(SessionStore);
    await store.create('t', { id: 'c' });
    const admin = new Redis(server.url);
    const clients = async (): Promise<number> =>
      String(await admin.client('LIST')).split('\n').filter((line: string) => line.includes('name=riptide-api:sessions')).length;
    const before = await clients(); // this app's connection and the test's own backend
    expect(before).toBe(2);
    await app.close();
    await waitUntil(async () => (await clients()) === before - 1, 2000);
    await admin.quit();
  });
});
