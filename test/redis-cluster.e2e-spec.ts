/**
 * The Redis backend on a real Redis Cluster (DESIGN §4): 3 primaries and 3 replicas on loopback
 * ports of this file's own, started here and stopped at the end. The shared behaviour suite runs
 * on it unchanged; then two API instances share it: request limits exact, the tenant cap within
 * the README's bound (none passed while the instances run), listing complete over all three
 * primaries, and a primary killed with SIGKILL costs at most a few seconds of 503s in its slots.
 */
import { RedisSessionBackend } from '../src/session/backends/redis-session.backend';
import { BUCKET_TAGS, bucketOf } from '../src/session/backends/lua/key-layout';
import { sessionBackendBehaviour } from './session-backend.behaviour';
import { bootApp, BootedApp } from './support/app';
import { deadSiteUrl } from './support/ports';
import { redisServerAvailable, silentLogger } from './support/redis';
import { RedisClusterProcess } from './support/redis-cluster';
import { RENDERER_TOKEN, startRenderer, StartedRenderer } from './support/renderer';

jest.setTimeout(60_000);

/** Six ports of this file's own (and their cluster bus ports, +10000). */
const BASE_PORT = 7420;

const describeCluster = redisServerAvailable() ? describe : describe.skip;

describeCluster('redis session backend on a Redis Cluster (3 primaries, 3 replicas)', () => {
  const cluster = new RedisClusterProcess(BASE_PORT);
  let prefixes = 0;

  beforeAll(async () => {
    await cluster.start();
  });

  afterAll(async () => {
    await cluster.stop();
  });

  it('spreads the buckets over all three primaries', async () => {
    const owners = new Set<number>();
    for (const tag of BUCKET_TAGS) owners.add((await cluster.primaryOf(await cluster.keySlot(`{${tag}}`))).port);
    expect(owners.size).toBe(3);
  });

  describe('the shared behaviour suite', () => {
    sessionBackendBehaviour({
      name: 'redis cluster',
      create: async () => {
        const backend = new RedisSessionBackend({
          url: 'redis://ignored-host:1',
          clusterNodes: cluster.seeds,
          prefix: `rt-cluster:${process.pid}:${++prefixes}:`,
          logger: silentLogger,
        });
        await backend.ready(10_000);
        return backend;
      },
      dispose: async (backend) => {
        await (backend as RedisSessionBackend).close();
        await cluster.deleteKeys((backend as RedisSessionBackend).keyPrefix);
      },
    });
  });

  describe('two API instances', () => {
    const KEY = 'key-of-tenant-a:tenant-a';
    const headers = { authorization: `Bearer ${KEY.split(':')[0]}` };
    let a: BootedApp;
    let b: BootedApp;
    let renderer: StartedRenderer;
    /** On the allowed site, but nothing listens: a render runs (its request is taken) and fails. */
    let deadUrl: string;

    beforeAll(async () => {
      renderer = await startRenderer();
      deadUrl = await deadSiteUrl();
    });

    afterAll(() => renderer?.app.close());

    const boot = (overrides: Record<string, unknown> = {}) =>
      bootApp({
        session_backend: 'redis',
        redis_url: 'redis://ignored-host:1',
        redis_cluster_nodes: cluster.seeds,
        api_keys: [KEY],
        headless_urls: [renderer.url],
        headless_token: RENDERER_TOKEN,
        render_allowed_hosts: ['127.0.0.2'],
        ...overrides,
      });
    const call = (app: BootedApp, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
      app.inject({ method, url, payload, headers });
    /** Statuses seen, and any answer that names a Cluster redirection or cross-slot error. */
    const tally = (responses: { status: number; text: string }[]) => {
      const statuses: Record<number, number> = {};
      for (const r of responses) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      return { statuses, clusterErrors: responses.filter((r) => /CROSSSLOT|MOVED|ASK /.test(r.text)).length };
    };

    afterEach(async () => {
      await Promise.all([a?.close(), b?.close()]);
      await cluster.deleteKeys('riptide:');
    });

    it('admits exactly max_requests of 60 concurrent reservations over both instances', async () => {
      [a, b] = await Promise.all([boot(), boot()]);
      expect((await call(a, 'POST', '/v1/sessions', { session_id: 'lim', max_requests: 10 })).status).toBe(201);
      const responses = await Promise.all(
        Array.from({ length: 60 }, (_, i) => call(i % 2 ? a : b, 'POST', '/v1/render', { url: deadUrl, session_id: 'lim' })),
      );
      // The reserved ones run and fail on the closed port: 502; the others are refused: 429.
      expect(tally(responses)).toEqual({ statuses: { 502: 10, 429: 50 }, clusterErrors: 0 });
      expect((await call(b, 'GET', '/v1/sessions/lim')).body.state.request_count).toBe(10);
    });

    it('creates at most the per-tenant cap of 150 concurrent creates over both instances', async () => {
      [a, b] = await Promise.all([boot({ session_max_per_tenant: 100 }), boot({ session_max_per_tenant: 100 })]);
      const responses = await Promise.all(
        Array.from({ length: 150 }, (_, i) => call(i % 2 ? a : b, 'POST', '/v1/sessions', { session_id: `c${i}` })),
      );
      // The README's bound: the cap is never passed while the instances run (only a crashed
      // instance's creates in flight could be), so exactly the cap is created.
      expect(tally(responses)).toEqual({ statuses: { 201: 100, 429: 50 }, clusterErrors: 0 });
      expect((await call(a, 'GET', '/v1/sessions/metrics')).body.active_sessions).toBe(100);
      // A removal frees a seat for the next create.
      expect((await call(a, 'DELETE', '/v1/sessions/c0')).status).toBe(204);
      expect((await call(b, 'POST', '/v1/sessions', { session_id: 'again' })).status).toBe(201);
      expect((await call(a, 'POST', '/v1/sessions', { session_id: 'over' })).status).toBe(429);
    });

    it('lists 300 sessions spread over all three primaries once each', async () => {
      [a, b] = await Promise.all([boot(), boot()]);
      const ids = Array.from({ length: 300 }, (_, i) => `s${String(i).padStart(3, '0')}`);
      for (let i = 0; i < ids.length; i += 50) {
        const batch = ids.slice(i, i + 50).map((id, j) => call(j % 2 ? a : b, 'POST', '/v1/sessions', { session_id: id }));
        expect(new Set((await Promise.all(batch)).map((r) => r.status))).toEqual(new Set([201]));
      }
      const primaryOfBucket = await Promise.all(BUCKET_TAGS.map(async (tag) => (await cluster.primaryOf(await cluster.keySlot(`{${tag}}`))).port));
      const perPrimary = new Map<number, number>();
      for (const id of ids) {
        const port = primaryOfBucket[bucketOf('tenant-a', id)];
        perPrimary.set(port, (perPrimary.get(port) ?? 0) + 1);
      }
      expect(perPrimary.size).toBe(3);
      for (const count of perPrimary.values()) expect(count).toBeGreaterThan(50);

      const seen: string[] = [];
      let cursor: string | null = null;
      let page = 0;
      do {
        const res: Awaited<ReturnType<typeof call>> = await call(page++ % 2 ? a : b, 'GET', `/v1/sessions?limit=70${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.status).toBe(200);
        seen.push(...(res.body.items as { session_id: string }[]).map((item) => item.session_id));
        cursor = res.body.next_cursor;
      } while (cursor !== null);
      expect(seen).toEqual(ids);
      expect((await call(a, 'GET', '/v1/sessions/metrics')).body.active_sessions).toBe(300);
    });

    it('keeps serving through a primary killed with SIGKILL: 503 in its slots at most, back within 10 s', async () => {
      [a, b] = await Promise.all([boot(), boot()]);
      const ids = Array.from({ length: 48 }, (_, i) => `f${i}`);
      for (const id of ids) expect((await call(a, 'POST', '/v1/sessions', { session_id: id })).status).toBe(201);
      const victim = await cluster.primaryOf(await cluster.keySlot(`{${BUCKET_TAGS[bucketOf('tenant-a', 'f0')]}}`));
      const round = () =>
        Promise.all(ids.map((id, i) => call(i % 2 ? a : b, 'PATCH', `/v1/sessions/${id}`, { metadata: { at: String(Date.now()) } })));

      const before = tally(await round());
      expect(before).toEqual({ statuses: { 200: 48 }, clusterErrors: 0 });
      await cluster.waitReplicated(victim.port);
      cluster.kill(victim.port);
      const killed = Date.now();
      const during: { status: number; text: string }[] = [];
      let recovered = 0;
      while (Date.now() - killed < 10_000) {
        const responses = await round();
        during.push(...responses);
        if (responses.every((r) => r.status === 200)) {
          recovered = Date.now() - killed;
          break;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      // Only 503s (the dead primary's slots) until its replica took over, never a 500.
      expect(Object.keys(tally(during).statuses).filter((s) => s !== '200' && s !== '503')).toEqual([]);
      expect(tally(during).clusterErrors).toBe(0);
      expect(recovered).toBeGreaterThan(0);
      expect(recovered).toBeLessThan(10_000);
      // Both instances are still up and every session answers (Redis replicates asynchronously, so
      // writes acknowledged just before a kill may be lost: here the victim's replica had them).
      for (const app of [a, b]) expect((await app.inject('/health/live')).status).toBe(200);
      const after = await Promise.all(ids.map((id) => call(b, 'GET', `/v1/sessions/${id}`)));
      expect(tally(after)).toEqual({ statuses: { 200: 48 }, clusterErrors: 0 });
    });
  });
});
