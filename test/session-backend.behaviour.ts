import { HttpException } from '@nestjs/common';
import { FakeClock } from '../src/common/clock';
import { AppConfig, loadConfig } from '../src/config/app-config';
import { SessionBackend } from '../src/session/backends/session-backend';
import { RenderRecord, Session, SessionRef } from '../src/session/session';
import { SessionStore } from '../src/session/session.store';

/** A backend under test: how to make a fresh, empty one and how to dispose of it. */
export interface BackendSubject {
  name: string;
  create(): Promise<SessionBackend>;
  dispose?(backend: SessionBackend): Promise<void>;
}

const SECOND = 1000;

const sortRefs = (refs: SessionRef[]): SessionRef[] =>
  [...refs].sort((a, b) => `${a.tenant}|${a.id}`.localeCompare(`${b.tenant}|${b.id}`));

async function statusOf(promise: Promise<unknown>): Promise<{ status: number; message: string }> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof HttpException) return { status: err.getStatus(), message: err.message };
    throw err;
  }
  throw new Error('expected the call to be refused');
}

/**
 * The session semantics of DESIGN §2, written once against the SessionBackend interface so
 * every backend runs exactly the same expectations. Time only moves through the fake clock.
 */
export function sessionBackendBehaviour(subject: BackendSubject): void {
  let backend: SessionBackend;
  let clock: FakeClock;
  let store: SessionStore;

  const makeStore = (overrides: Partial<Record<keyof AppConfig, unknown>> = {}): SessionStore =>
    new SessionStore(backend, clock, loadConfig({ env: {}, overrides: { session_default_ttl_seconds: 60, ...overrides } }));

  beforeEach(async () => {
    backend = await subject.create();
    clock = new FakeClock();
    store = makeStore();
  });

  afterEach(async () => {
    await subject.dispose?.(backend);
  });

  describe('get-or-create', () => {
    it('creates once and then returns the existing session with its first config', async () => {
      const first = await store.getOrCreate('t', 's1', { config: { ttlSeconds: 100, maxRequests: 5 } });
      expect(first.created).toBe(true);
      expect(first.session.config).toEqual({ ttlSeconds: 100, autoRenew: true, maxRequests: 5, trackMetrics: true });
      clock.advance(SECOND);
      const second = await store.getOrCreate('t', 's1', { config: { ttlSeconds: 5 } });
      expect(second.created).toBe(false);
      expect(second.session.createdAt).toBe(first.session.createdAt);
      expect(second.session.config.ttlSeconds).toBe(100);
    });

    it('applies the configured defaults', async () => {
      const session = await store.create('t', {});
      expect(session.id).toMatch(/^rpc_session_[0-9a-f]{24}$/);
      expect(session.config).toEqual({ ttlSeconds: 60, autoRenew: true, maxRequests: 0, trackMetrics: true });
      expect(session.expiresAt - session.createdAt).toBe(60 * SECOND);
    });

    it('refuses to create over a live id with 409', async () => {
      await store.create('t', { id: 'dup' });
      expect((await statusOf(store.create('t', { id: 'dup' }))).status).toBe(409);
    });

    it('starts fresh when the id has expired', async () => {
      const old = await store.create('t', { id: 'e', config: { ttlSeconds: 10 } });
      await store.reserveRequest('t', 'e');
      clock.advance(10 * SECOND);
      const { session, created } = await store.getOrCreate('t', 'e');
      expect(created).toBe(true);
      expect(session.createdAt).toBe(old.createdAt + 10 * SECOND);
      expect(session.requestCount).toBe(0);
    });
  });

  describe('expiry', () => {
    it('hides a session at exactly expires_at, before any cleanup', async () => {
      await store.create('t', { id: 'x', config: { ttlSeconds: 30 } });
      clock.advance(30 * SECOND - 1);
      expect(await store.get('t', 'x')).not.toBeNull();
      clock.advance(1);
      expect(await store.get('t', 'x')).toBeNull();
      expect((await statusOf(store.touch('t', 'x'))).status).toBe(404);
      expect((await store.list('t', 10, null)).items).toEqual([]);
      expect((await store.metrics()).activeSessions).toBe(0);
    });

    it('get neither touches nor counts', async () => {
      const created = await store.create('t', { id: 'g' });
      clock.advance(5 * SECOND);
      const read = await store.get('t', 'g');
      expect(read?.lastAccessed).toBe(created.lastAccessed);
      expect(read?.expiresAt).toBe(created.expiresAt);
      expect(read?.requestCount).toBe(0);
    });

    it('touch renews with auto_renew and only records access without it', async () => {
      await store.create('t', { id: 'renew', config: { ttlSeconds: 20 } });
      await store.create('t', { id: 'fixed', config: { ttlSeconds: 20, autoRenew: false } });
      clock.advance(15 * SECOND);
      const now = clock.now();
      const renewed = await store.touch('t', 'renew');
      expect(renewed.lastAccessed).toBe(now);
      expect(renewed.expiresAt).toBe(now + 20 * SECOND);
      const fixed = await store.touch('t', 'fixed');
      expect(fixed.lastAccessed).toBe(now);
      expect(fixed.expiresAt).toBe(now - 15 * SECOND + 20 * SECOND);
      clock.advance(5 * SECOND);
      expect(await store.get('t', 'fixed')).toBeNull();
      expect(await store.get('t', 'renew')).not.toBeNull();
    });
  });

  describe('request limit', () => {
    it('admits max_requests requests, then refuses with count/max', async () => {
      await store.create('t', { id: 'lim', config: { maxRequests: 3 } });
      for (let i = 1; i <= 3; i++) expect((await store.reserveRequest('t', 'lim')).session.requestCount).toBe(i);
      const refused = await statusOf(store.reserveRequest('t', 'lim'));
      expect(refused.status).toBe(429);
      expect(refused.message).toContain('3/3');
      expect((await store.get('t', 'lim'))?.requestCount).toBe(3);
    });

    it('admits exactly max_requests of many concurrent reservations', async () => {
      await store.create('t', { id: 'race', config: { maxRequests: 10 } });
      const results = await Promise.allSettled(Array.from({ length: 100 }, () => store.reserveRequest('t', 'race')));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(rejected).toHaveLength(90);
      expect(rejected.every((r) => (r.reason as HttpException).getStatus() === 429)).toBe(true);
      expect((await store.get('t', 'race'))?.requestCount).toBe(10);
    });

    it('creates an unknown session with defaults on reservation, and renews it', async () => {
      const { session: reserved } = await store.reserveRequest('t', 'fresh');
      expect(reserved.requestCount).toBe(1);
      expect(reserved.config.ttlSeconds).toBe(60);
      clock.advance(50 * SECOND);
      const { session: again } = await store.reserveRequest('t', 'fresh');
      expect(again.expiresAt).toBe(clock.now() + 60 * SECOND);
      expect(again.createdAt).toBe(reserved.createdAt);
    });

    it('gives back a refunded request, never below zero, and counts it out of the totals', async () => {
      await store.create('t', { id: 'refund', config: { maxRequests: 1 } });
      await store.reserveRequest('t', 'refund');
      await expect(store.reserveRequest('t', 'refund')).rejects.toThrow('1/1');
      clock.advance(SECOND);
      const refunded = await store.refundRequest('t', 'refund');
      expect(refunded?.requestCount).toBe(0);
      expect(refunded?.lastAccessed).toBe(clock.now() - SECOND); // no touch: nothing ran
      expect((await store.metrics('t')).totalRequests).toBe(0);
      expect((await store.refundRequest('t', 'refund'))?.requestCount).toBe(0);
      expect((await store.reserveRequest('t', 'refund')).session.requestCount).toBe(1);
      expect(await store.refundRequest('t', 'never-made')).toBeNull();
    });

    it('treats 0 as unlimited', async () => {
      await store.create('t', { id: 'free' });
      for (let i = 0; i < 25; i++) await store.reserveRequest('t', 'free');
      const session = await store.get('t', 'free');
      expect(session?.requestCount).toBe(25);
    });
  });

  describe('render results', () => {
    it('records url, time and percentiles of successful renders', async () => {
      await store.create('t', { id: 'r' });
      for (const ms of [10, 20, 30, 40]) {
        await store.reserveRequest('t', 'r');
        await store.recordResult('t', 'r', { url: `https://example.com/${ms}`, renderTimeMs: ms, error: null });
      }
      const session = await store.get('t', 'r');
      expect(session?.lastUrl).toBe('https://example.com/40');
      expect(session?.totalRenderTimeMs).toBe(100);
      expect(session?.renderCount).toBe(4);
      expect(session?.renderTimes).toEqual([10, 20, 30, 40]);
      expect(session?.errorCount).toBe(0);
    });

    it('counts a failed render and records its error', async () => {
      await store.create('t', { id: 'f', config: { maxRequests: 1 } });
      await store.reserveRequest('t', 'f');
      await store.recordResult('t', 'f', { url: 'https://example.com/', renderTimeMs: 5, error: 'navigation failed' });
      const session = await store.get('t', 'f');
      expect(session?.requestCount).toBe(1);
      expect(session?.errorCount).toBe(1);
      expect(session?.lastError).toBe('navigation failed');
      expect(session?.renderCount).toBe(0);
      expect((await statusOf(store.reserveRequest('t', 'f'))).status).toBe(429);
    });

    it('keeps no timings when track_metrics is off', async () => {
      await store.create('t', { id: 'quiet', config: { trackMetrics: false } });
      await store.recordResult('t', 'quiet', { url: 'https://example.com/', renderTimeMs: 50, error: null });
      const session = await store.get('t', 'quiet');
      expect(session?.totalRenderTimeMs).toBe(0);
      expect(session?.renderTimes).toEqual([]);
      expect(session?.lastUrl).toBe('https://example.com/');
    });

    it('keeps browser state up to the configured size', async () => {
      store = makeStore({ session_max_storage_state_bytes: 64 });
      await store.create('t', { id: 'b' });
      expect(await store.storageState('t', 'b')).toBeNull();
      expect((await statusOf(store.storageState('t', 'unknown'))).status).toBe(404);
      const state = { json: JSON.stringify({ cookies: [{ name: 'sid', value: 'abc' }], origins: [] }), seq: 1 };
      await store.recordResult('t', 'b', { url: 'https://example.com/', renderTimeMs: 1, error: null, storageState: state });
      expect(await store.storageState('t', 'b')).toEqual(state);
      expect((await store.reserveRequest('t', 'b')).stateSeq).toBe(state.seq);
      const huge = { json: JSON.stringify({ cookies: [{ name: 'x', value: 'y'.repeat(100) }], origins: [] }), seq: 2 };
      await store.recordResult('t', 'b', { url: 'https://example.com/', renderTimeMs: 1, error: null, storageState: huge });
      expect(await store.storageState('t', 'b')).toEqual(state);
    });

    it('drops a result for a session removed mid-render', async () => {
      await store.create('t', { id: 'gone' });
      await store.remove('t', 'gone');
      expect(await store.recordResult('t', 'gone', { url: 'https://example.com/', renderTimeMs: 1, error: null })).toBeNull();
      expect(await store.get('t', 'gone')).toBeNull();
    });
  });

  describe('browser state order', () => {
    const snapshot = (seq: number) => ({ json: JSON.stringify({ cookies: [{ name: 'n', value: String(seq) }], origins: [] }), seq });
    const record = (id: string, storageState: RenderRecord['storageState']) =>
      store.recordResult('t', id, { url: 'https://example.com/', renderTimeMs: 1, error: null, storageState });

    it('keeps a newer snapshot and refuses an older or equal one, without an error', async () => {
      await store.create('t', { id: 'o' });
      await record('o', snapshot(2));
      expect(await store.storageState('t', 'o')).toEqual(snapshot(2));
      // The render that took snapshot 1 finishes last: it is recorded, but its state is not kept.
      const late = await record('o', snapshot(1));
      expect(late?.session.lastUrl).toBe('https://example.com/');
      expect(await store.storageState('t', 'o')).toEqual(snapshot(2));
      await record('o', { ...snapshot(2), json: '{"cookies":[],"origins":[]}' });
      expect(await store.storageState('t', 'o')).toEqual(snapshot(2));
      await record('o', snapshot(10));
      expect(await store.storageState('t', 'o')).toEqual(snapshot(10));
      expect((await store.reserveRequest('t', 'o')).stateSeq).toBe(10);
      await record('o', undefined); // no state from this render: the saved one stays
      expect(await store.storageState('t', 'o')).toEqual(snapshot(10));
    });

    it('clears the state and its order on null: a context restored from nothing counts from 1 again', async () => {
      await store.create('t', { id: 'c' });
      await record('c', snapshot(5));
      await record('c', null);
      expect(await store.storageState('t', 'c')).toBeNull();
      expect((await store.reserveRequest('t', 'c')).stateSeq).toBeNull();
      await record('c', snapshot(1));
      expect(await store.storageState('t', 'c')).toEqual(snapshot(1));
      await record('c', snapshot(2));
      expect(await store.storageState('t', 'c')).toEqual(snapshot(2));
    });

    it('keeps the newest of many snapshots recorded concurrently in any order', async () => {
      await store.create('t', { id: 'many' });
      const seqs = Array.from({ length: 30 }, (_, i) => ((i * 7) % 30) + 1);
      await Promise.all(seqs.map((seq) => record('many', snapshot(seq))));
      expect(await store.storageState('t', 'many')).toEqual(snapshot(30));
    });

    it('refuses a seq that is not a positive integer', async () => {
      await store.create('t', { id: 'bad' });
      for (const seq of [0, -1, 1.5, Number.NaN]) {
        const record = { url: 'u', renderTimeMs: 1, error: null, storageState: { json: '{}', seq } };
        await expect(store.recordResult('t', 'bad', record)).rejects.toThrow(/seq/);
      }
    });
  });

  describe('incarnations', () => {
    const TOKEN = /^[A-Za-z0-9_-]{22}$/;
    const state = { json: JSON.stringify({ cookies: [{ name: 'sid', value: 'old' }], origins: [] }), seq: 9 };
    const saveState = (id: string) =>
      store.recordResult('t', id, { url: 'https://example.com/', renderTimeMs: 1, error: null, storageState: state });

    it('gives every creation of an id a new random incarnation, and keeps it for the life of the session', async () => {
      const seen: string[] = [];
      const created = await store.create('t', { id: 'i', config: { ttlSeconds: 10 } });
      seen.push(created.incarnation);
      // Every operation on the same session answers the same incarnation.
      expect((await store.get('t', 'i'))?.incarnation).toBe(created.incarnation);
      expect((await store.getOrCreate('t', 'i')).session.incarnation).toBe(created.incarnation);
      expect((await store.touch('t', 'i')).incarnation).toBe(created.incarnation);
      expect((await store.reserveRequest('t', 'i')).session.incarnation).toBe(created.incarnation);
      expect((await saveState('i'))?.session.incarnation).toBe(created.incarnation);
      expect((await store.update('t', 'i', { metadata: { a: 'b' } })).incarnation).toBe(created.incarnation);
      expect((await store.list('t', 10, null)).items[0].incarnation).toBe(created.incarnation);

      await store.remove('t', 'i'); // created again after a delete, by get-or-create
      seen.push((await store.getOrCreate('t', 'i', { config: { ttlSeconds: 10 } })).session.incarnation);
      clock.advance(10 * SECOND); // after expiry (not swept), by create
      seen.push((await store.create('t', { id: 'i', config: { ttlSeconds: 10 } })).incarnation);
      clock.advance(10 * SECOND); // after expiry, by a render's reservation
      const reserved = await store.reserveRequest('t', 'i');
      seen.push(reserved.session.incarnation);
      seen.push((await store.reserveRequest('t', 'first-use')).session.incarnation); // first use by a render
      seen.push((await store.create('t', { id: 'i2' })).incarnation); // first use by create

      expect(seen.every((incarnation) => TOKEN.test(incarnation))).toBe(true);
      expect(new Set(seen).size).toBe(seen.length);
      // The same id in another tenant is another session, with its own incarnation.
      expect((await store.create('u', { id: 'i' })).incarnation).not.toBe(reserved.session.incarnation);
    });

    it('starts a session created again after expiry (not swept) with no browser state', async () => {
      await store.create('t', { id: 'x', config: { ttlSeconds: 2, autoRenew: false } });
      await saveState('x');
      clock.advance(2 * SECOND);
      const { session, created } = await store.getOrCreate('t', 'x');
      expect(created).toBe(true);
      expect(await store.storageState('t', 'x')).toBeNull();
      expect((await store.reserveRequest('t', 'x')).stateSeq).toBeNull();
      // The new incarnation keeps its own order: its first snapshot is kept whatever the old seq was.
      const fresh = { json: '{"cookies":[],"origins":[]}', seq: 1 };
      await store.recordResult('t', 'x', { url: 'https://example.com/', renderTimeMs: 1, error: null, storageState: fresh });
      expect(await store.storageState('t', 'x')).toEqual(fresh);
      expect((await store.get('t', 'x'))?.incarnation).toBe(session.incarnation);
    });

    it('starts a session that a render re-creates after expiry with no browser state', async () => {
      await store.create('t', { id: 'r', config: { ttlSeconds: 2, autoRenew: false } });
      await saveState('r');
      clock.advance(2 * SECOND);
      const reserved = await store.reserveRequest('t', 'r');
      expect(reserved.session.requestCount).toBe(1);
      expect(reserved.stateSeq).toBeNull();
    });

    it('starts a session created again after a delete with no browser state', async () => {
      const old = await store.create('t', { id: 'd' });
      await saveState('d');
      await store.remove('t', 'd');
      const again = await store.create('t', { id: 'd' });
      expect(again.incarnation).not.toBe(old.incarnation);
      expect(await store.storageState('t', 'd')).toBeNull();
      expect((await store.reserveRequest('t', 'd')).stateSeq).toBeNull();
    });
  });

  describe('removal reports', () => {
    let reported: SessionRef[];
    const ref = (session: Session): SessionRef => ({ tenant: session.tenant, id: session.id, incarnation: session.incarnation });

    beforeEach(() => {
      reported = [];
      store.onRemoved((removed) => reported.push(removed));
    });

    it('reports a removed session with its incarnation, once', async () => {
      const session = await store.create('t', { id: 'rm' });
      await store.remove('t', 'rm');
      await store.remove('t', 'rm');
      await store.remove('t', 'never');
      expect(reported).toEqual([ref(session)]);
      await store.cleanupExpired();
      expect(reported).toEqual([ref(session)]);
    });

    it('reports every session the sweep removes, with its incarnation', async () => {
      const a = await store.create('t', { id: 'a', config: { ttlSeconds: 1 } });
      const b = await store.create('u', { id: 'b', config: { ttlSeconds: 1 } });
      await store.create('t', { id: 'long', config: { ttlSeconds: 100 } });
      clock.advance(SECOND);
      const tally = await store.cleanupExpiredByTenant();
      expect(tally.removed).toBe(2);
      expect(sortRefs(reported)).toEqual(sortRefs([ref(a), ref(b)]));
      await store.cleanupExpired();
      expect(reported).toHaveLength(2);
    });

    it('reports an expired session that an operation dropped, at the next sweep, once and uncounted', async () => {
      const old = await store.create('t', { id: 'e', config: { ttlSeconds: 1 } });
      const met = await store.create('t', { id: 'met', config: { ttlSeconds: 1 } });
      const metered = await store.create('u', { id: 'metered', config: { ttlSeconds: 1 } });
      clock.advance(SECOND);
      const again = await store.create('t', { id: 'e' }); // the expired 'e' is dropped, not swept
      expect(await store.get('t', 'met')).toBeNull();
      expect((await store.metrics()).expiredTotal).toBe(3); // the metrics read swept 'metered'
      expect(reported).toEqual([]);

      const tally = await store.cleanupExpiredByTenant();
      expect(tally.removed).toBe(0); // all three were counted when they were dropped
      expect(sortRefs(reported)).toEqual(sortRefs([ref(old), ref(met), ref(metered)]));
      expect(reported).not.toContainEqual(ref(again));
      await store.cleanupExpired();
      expect(reported).toHaveLength(3);
    });
  });

  describe('upstream proxy', () => {
    const proxy = { server: 'http://proxy.example:3128', username: 'user', password: 's3cret' };

    it('keeps the proxy with its credentials, and gives it to a render with its reservation', async () => {
      const created = await store.create('t', { id: 'p', config: { proxy } });
      expect(created.config.proxy).toEqual(proxy);
      expect((await store.get('t', 'p'))?.config.proxy).toEqual(proxy);
      expect((await store.reserveRequest('t', 'p')).session.config.proxy).toEqual(proxy);
      expect((await store.list('t', 10, null)).items[0].config.proxy).toEqual(proxy);
      expect((await store.getOrCreate('t', 'p')).session.config.proxy).toEqual(proxy);
      expect((await store.create('t', { id: 'plain' })).config.proxy).toBeUndefined();
      const socks = await store.create('t', { id: 'socks', config: { proxy: { server: 'socks5://10.0.0.1:1080' } } });
      expect(socks.config.proxy).toEqual({ server: 'socks5://10.0.0.1:1080' });
    });

    it('replaces the proxy as a whole on patch, keeps it through other patches, and removes it on null', async () => {
      await store.create('t', { id: 'p', config: { proxy } });
      const other = { server: 'https://other.example:8443' };
      expect((await store.update('t', 'p', { proxy: other })).config.proxy).toEqual(other);
      const kept = await store.update('t', 'p', { ttlSeconds: 30, metadata: { a: 'b' } });
      expect(kept.config).toEqual({ ttlSeconds: 30, autoRenew: true, maxRequests: 0, trackMetrics: true, proxy: other });
      expect((await store.update('t', 'p', { proxy: null })).config.proxy).toBeUndefined();
      expect((await store.get('t', 'p'))?.config.proxy).toBeUndefined();
      expect((await store.update('t', 'p', { proxy })).config.proxy).toEqual(proxy);
    });

    it('does not pass a proxy on to a later incarnation of the id', async () => {
      await store.create('t', { id: 'p', config: { proxy, ttlSeconds: 1 } });
      clock.advance(SECOND);
      expect((await store.reserveRequest('t', 'p')).session.config.proxy).toBeUndefined();
    });
  });

  describe('update', () => {
    it('merges metadata: set, overwrite, null deletes, null object clears', async () => {
      await store.create('t', { id: 'm', metadata: { a: '1', b: '2' } });
      let session = await store.update('t', 'm', { metadata: { b: '3', c: '4', a: null } });
      expect(session.metadata).toEqual({ b: '3', c: '4' });
      session = await store.update('t', 'm', { metadata: null });
      expect(session.metadata).toEqual({});
    });

    it('refuses a patch that would exceed 64 keys and changes nothing', async () => {
      const initial = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`k${i}`, 'v']));
      await store.create('t', { id: 'full', metadata: initial });
      const extra = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`x${i}`, 'v']));
      expect((await statusOf(store.update('t', 'full', { metadata: extra }))).status).toBe(400);
      expect(Object.keys((await store.get('t', 'full'))!.metadata)).toHaveLength(60);
    });

    it('loses no update when metadata keys are set concurrently', async () => {
      await store.create('t', { id: 'conc' });
      await Promise.all(Array.from({ length: 40 }, (_, i) => store.update('t', 'conc', { metadata: { [`k${i}`]: `${i}` } })));
      expect(Object.keys((await store.get('t', 'conc'))!.metadata)).toHaveLength(40);
    });

    it('applies a new ttl from now and changes the limit', async () => {
      await store.create('t', { id: 'cfg', config: { maxRequests: 1 } });
      clock.advance(30 * SECOND);
      const session = await store.update('t', 'cfg', { ttlSeconds: 5, maxRequests: 2, autoRenew: false });
      expect(session.expiresAt).toBe(clock.now() + 5 * SECOND);
      expect(session.config).toMatchObject({ ttlSeconds: 5, maxRequests: 2, autoRenew: false });
      await store.reserveRequest('t', 'cfg');
      await store.reserveRequest('t', 'cfg');
      expect((await statusOf(store.reserveRequest('t', 'cfg'))).status).toBe(429);
      clock.advance(5 * SECOND);
      expect(await store.get('t', 'cfg')).toBeNull();
    });

    it('answers 404 for an unknown session', async () => {
      expect((await statusOf(store.update('t', 'nope', { metadata: { a: 'b' } }))).status).toBe(404);
    });
  });

  describe('remove, cleanup and metrics', () => {
    it('removes once', async () => {
      await store.create('t', { id: 'rm' });
      expect(await store.remove('t', 'rm')).toBe(true);
      expect(await store.remove('t', 'rm')).toBe(false);
      expect(await store.get('t', 'rm')).toBeNull();
      expect((await store.metrics()).removedTotal).toBe(1);
    });

    it('sweeps exactly the expired sessions, and a renewed one survives', async () => {
      for (const id of ['a', 'b', 'c']) await store.create('t', { id, config: { ttlSeconds: 1 } });
      await store.create('t', { id: 'renewed', config: { ttlSeconds: 1 } });
      await store.create('t', { id: 'long', config: { ttlSeconds: 100 } });
      clock.advance(900);
      await store.touch('t', 'renewed');
      clock.advance(100);
      expect(await store.cleanupExpired()).toBe(3);
      expect(await store.cleanupExpired()).toBe(0);
      const metrics = await store.metrics();
      expect(metrics.activeSessions).toBe(2);
      expect(metrics.expiredTotal).toBe(3);
      clock.advance(1000);
      expect(await store.cleanupExpired()).toBe(1);
      expect(await store.get('t', 'long')).not.toBeNull();
    });

    it('aggregates requests, render times, ages and percentiles', async () => {
      await store.create('t', { id: 'm1' });
      clock.advance(10 * SECOND);
      await store.create('t', { id: 'm2' });
      const times = Array.from({ length: 100 }, (_, i) => i + 1);
      for (const ms of times) {
        await store.reserveRequest('t', ms % 2 ? 'm1' : 'm2');
        await store.recordResult('t', ms % 2 ? 'm1' : 'm2', { url: 'https://example.com/', renderTimeMs: ms, error: null });
      }
      const metrics = await store.metrics();
      expect(metrics.activeSessions).toBe(2);
      expect(metrics.totalRequests).toBe(100);
      expect(metrics.avgRenderTimeMs).toBeCloseTo(50.5);
      expect(metrics.avgSessionAgeSeconds).toBeCloseTo(5);
      expect(metrics.renderTimeMsP50).toBe(50);
      expect(metrics.renderTimeMsP95).toBe(95);
      expect(metrics.renderTimeMsP99).toBe(99);
      expect(metrics.createdTotal).toBe(2);
    });
  });

  describe('per-tenant metrics', () => {
    const render = async (tenant: string, id: string, ms: number, error: string | null = null): Promise<void> => {
      await store.reserveRequest(tenant, id);
      await store.recordResult(tenant, id, { url: 'https://example.com/', renderTimeMs: ms, error });
    };

    it("gives each tenant its own aggregates, and the global ones are their sum (percentiles: their merge)", async () => {
      await store.create('alpha', { id: 'a1' });
      await store.create('alpha', { id: 'a2' });
      clock.advance(10 * SECOND);
      await store.create('beta', { id: 'b1' });
      for (const ms of [10, 20, 30]) await render('alpha', 'a1', ms);
      await render('beta', 'b1', 100);
      await render('beta', 'b1', 7, 'navigation failed'); // counts as a request, not as a render time
      expect(await store.remove('alpha', 'a2')).toBe(true);

      const alpha = await store.metrics('alpha');
      expect(alpha).toEqual({
        activeSessions: 1,
        totalRequests: 3,
        avgRenderTimeMs: 20,
        avgSessionAgeSeconds: 10,
        renderTimeMsP50: 20,
        renderTimeMsP95: 30,
        renderTimeMsP99: 30,
        createdTotal: 2,
        expiredTotal: 0,
        removedTotal: 1,
        storedBytes: 'https://example.com/'.length,
      });
      const beta = await store.metrics('beta');
      expect(beta).toEqual({
        activeSessions: 1,
        totalRequests: 2,
        avgRenderTimeMs: 100,
        avgSessionAgeSeconds: 0,
        renderTimeMsP50: 100,
        renderTimeMsP95: 100,
        renderTimeMsP99: 100,
        createdTotal: 1,
        expiredTotal: 0,
        removedTotal: 0,
        storedBytes: 'https://example.com/navigation failed'.length,
      });
      expect(await store.metrics()).toEqual({
        activeSessions: 2,
        totalRequests: 5,
        avgRenderTimeMs: 40,
        avgSessionAgeSeconds: 5,
        renderTimeMsP50: 20,
        renderTimeMsP95: 100,
        renderTimeMsP99: 100,
        createdTotal: 3,
        expiredTotal: 0,
        removedTotal: 1,
        storedBytes: 'https://example.com/https://example.com/navigation failed'.length,
      });
      // A tenant with no sessions yet sees zeros, not someone else's numbers.
      expect(await store.metrics('gamma')).toMatchObject({ activeSessions: 0, totalRequests: 0, createdTotal: 0, renderTimeMsP50: null });

      // The backend's raw aggregates: the global ones are exactly the per-tenant ones added up.
      const now = clock.now();
      const [all, a, b] = await Promise.all([backend.metrics(now), backend.metrics(now, 'alpha'), backend.metrics(now, 'beta')]);
      const { recentRenderTimes, ...totals } = all;
      for (const [field, value] of Object.entries(totals)) {
        expect({ field, value }).toEqual({ field, value: a[field as keyof typeof totals] + b[field as keyof typeof totals] });
      }
      expect([...recentRenderTimes].sort((x, y) => x - y)).toEqual([...a.recentRenderTimes, ...b.recentRenderTimes].sort((x, y) => x - y));
    });

    it('counts expiry (found expired, swept, or swept by a metrics read) and removal per tenant', async () => {
      await store.create('alpha', { id: 'x1', config: { ttlSeconds: 1 } });
      await store.create('alpha', { id: 'x2', config: { ttlSeconds: 1 } });
      await store.create('alpha', { id: 'long', config: { ttlSeconds: 100 } });
      await store.create('beta', { id: 'y1', config: { ttlSeconds: 1 } });
      await store.create('beta', { id: 'y2', config: { ttlSeconds: 2 } });
      clock.advance(SECOND);
      expect(await store.get('beta', 'y1')).toBeNull(); // found expired: counted at once

      const tally = await store.cleanupExpiredByTenant();
      expect(tally.removed).toBe(2);
      expect(Object.fromEntries(tally.byTenant)).toEqual({ alpha: 2 });
      expect(await store.metrics('alpha')).toMatchObject({ activeSessions: 1, expiredTotal: 2, avgSessionAgeSeconds: 1 });
      expect(await store.metrics('beta')).toMatchObject({ activeSessions: 1, expiredTotal: 1 });

      clock.advance(SECOND);
      expect(await store.metrics('beta')).toMatchObject({ activeSessions: 0, expiredTotal: 2, avgSessionAgeSeconds: 0 });
      expect(await store.metrics('alpha')).toMatchObject({ activeSessions: 1, expiredTotal: 2, avgSessionAgeSeconds: 2 });
      expect(await store.metrics()).toMatchObject({ activeSessions: 1, expiredTotal: 4, removedTotal: 0, createdTotal: 5 });

      expect(await store.remove('alpha', 'long')).toBe(true);
      expect(await store.metrics('alpha')).toMatchObject({ activeSessions: 0, removedTotal: 1, avgSessionAgeSeconds: 0 });
      expect(await store.metrics('beta')).toMatchObject({ removedTotal: 0 });
      expect(await store.cleanupExpired()).toBe(0);

      // A tenant's totals outlive its last session: a new session adds to them.
      await store.create('alpha', { id: 'again' });
      expect(await store.metrics('alpha')).toMatchObject({ activeSessions: 1, createdTotal: 4, expiredTotal: 2, removedTotal: 1 });
    });
  });

  describe('storage budget', () => {
    const BUDGET = 1000;
    const bytesOf = async (tenant: string): Promise<number> => (await store.metrics(tenant)).storedBytes;
    /** `n` bytes of UTF-8 under one key: key 'k<i>' and a value filling the rest. */
    const entry = (i: number, n: number): Record<string, string> => ({ [`k${i}`]: 'v'.repeat(n - `k${i}`.length) });
    const state = (bytes: number, seq: number) => ({ json: JSON.stringify({ cookies: [], pad: 'x'.repeat(bytes - 23) }), seq });
    const record = (id: string, storageState?: RenderRecord['storageState'], error: string | null = null) =>
      store.recordResult('t', id, { url: 'https://example.com/', renderTimeMs: 1, error, storageState });

    beforeEach(() => {
      store = makeStore({ session_max_bytes_per_tenant: BUDGET });
    });

    it('counts UTF-8 bytes of metadata, proxy, last_url, last_error and browser state exactly', async () => {
      const proxy = { server: 'http://proxy.example:3128', username: 'üser', password: 'pä55' };
      const metadata = { café: '☕ crème', plain: 'x' };
      await store.create('t', { id: 'm', metadata, config: { proxy } });
      const proxyBytes = Buffer.byteLength(JSON.stringify(proxy));
      const metadataBytes = Buffer.byteLength('café☕ crèmeplainx');
      expect(await bytesOf('t')).toBe(proxyBytes + metadataBytes);

      const url = 'https://example.com/ñ';
      const snapshot = { json: '{"cookies":[],"origins":[{"origin":"é"}]}', seq: 1 };
      await store.recordResult('t', 'm', { url, renderTimeMs: 1, error: 'boom ✗', storageState: snapshot });
      const recorded = proxyBytes + metadataBytes + Buffer.byteLength(url + 'boom ✗' + snapshot.json);
      expect(await bytesOf('t')).toBe(recorded);

      // Replacing a value counts the difference; deleting a key gives back key and value.
      await store.update('t', 'm', { metadata: { café: 'é', plain: null }, proxy: null });
      expect(await bytesOf('t')).toBe(recorded - proxyBytes - metadataBytes + Buffer.byteLength('caféé'));
      await store.update('t', 'm', { metadata: null });
      expect(await bytesOf('t')).toBe(Buffer.byteLength(url + 'boom ✗' + snapshot.json));
      await record('m', null); // clearing the state, and a render without an error, keep last_error
      expect(await bytesOf('t')).toBe(Buffer.byteLength('https://example.com/boom ✗'));
      expect(await bytesOf('other')).toBe(0);
      expect((await store.metrics()).storedBytes).toBe(await bytesOf('t'));
    });

    it('refuses a create over the budget with 429 naming it, changing nothing; other tenants are unaffected', async () => {
      await store.create('t', { id: 'a', metadata: entry(0, 600) });
      const refused = await statusOf(store.create('t', { id: 'b', metadata: entry(1, 401) }));
      expect(refused).toEqual({ status: 429, message: 'tenant storage quota exceeded: 1001/1000 bytes' });
      expect(await store.get('t', 'b')).toBeNull();
      expect((await statusOf(store.getOrCreate('t', 'b', { metadata: entry(1, 401) }))).status).toBe(429);
      expect(await bytesOf('t')).toBe(600);
      // Exactly at the budget is allowed, and a session without stored bytes is always allowed.
      await store.create('t', { id: 'b', metadata: entry(1, 400) });
      await store.create('t', { id: 'c' });
      await store.reserveRequest('t', 'd');
      expect(await bytesOf('t')).toBe(BUDGET);
      // Another tenant has a budget of its own.
      await store.create('u', { id: 'a', metadata: entry(0, 1000) });
      expect(await bytesOf('u')).toBe(1000);
    });

    it('refuses a patch that would pass the budget with 429, changing nothing (not even the config)', async () => {
      await store.create('t', { id: 'p', metadata: entry(0, 900) });
      const refused = await statusOf(store.update('t', 'p', { ttlSeconds: 5, metadata: entry(1, 101) }));
      expect(refused).toEqual({ status: 429, message: 'tenant storage quota exceeded: 1001/1000 bytes' });
      const proxy = { server: 'http://proxy.example:3128', password: 'p'.repeat(100) };
      expect((await statusOf(store.update('t', 'p', { proxy }))).status).toBe(429);
      const kept = await store.get('t', 'p');
      expect(kept?.metadata).toEqual(entry(0, 900));
      expect(kept?.config.ttlSeconds).toBe(60);
      expect(kept?.config.proxy).toBeUndefined();
      expect(await bytesOf('t')).toBe(900);
      // A patch that frees as much as it adds passes at the budget.
      await store.update('t', 'p', { metadata: { ...entry(1, 950), k0: null } });
      expect(await bytesOf('t')).toBe(950);
      expect((await statusOf(store.update('u', 'p', { metadata: entry(1, 3) }))).status).toBe(404);
    });

    it('admits exactly the concurrent patches that fit', async () => {
      await store.create('t', { id: 'race' });
      const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => store.update('t', 'race', { metadata: entry(i, 100) })));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
      expect(Object.keys((await store.get('t', 'race'))!.metadata)).toHaveLength(10);
      expect(await bytesOf('t')).toBe(BUDGET);
    });

    it('gives the bytes back exactly on removal, expiry (met, swept, or at a create) and clearing', async () => {
      await store.create('t', { id: 'rm', metadata: entry(0, 500) });
      await record('rm', state(300, 1));
      expect(await bytesOf('t')).toBe(800 + 'https://example.com/'.length);
      await store.remove('t', 'rm');
      expect(await bytesOf('t')).toBe(0);

      await store.create('t', { id: 'met', metadata: entry(0, 300), config: { ttlSeconds: 1 } });
      await store.create('t', { id: 'swept', metadata: entry(0, 300), config: { ttlSeconds: 1 } });
      await store.create('t', { id: 'kept', metadata: entry(0, 300), config: { ttlSeconds: 2 } });
      clock.advance(SECOND);
      expect(await store.get('t', 'met')).toBeNull();
      expect(await bytesOf('t')).toBe(300); // the metrics read swept the other one
      // Expired sessions that nothing met or swept yet do not keep a create out.
      await store.create('t', { id: 'x', metadata: entry(0, 700), config: { ttlSeconds: 1 } });
      clock.advance(SECOND);
      await store.create('t', { id: 'y', metadata: entry(0, 1000) });
      expect(await bytesOf('t')).toBe(1000);
      expect(await store.cleanupExpired()).toBe(0);
      expect(await bytesOf('t')).toBe(1000);
      expect((await store.metrics()).storedBytes).toBe(1000);
    });

    it("keeps the previous browser state when a render's new state would pass the budget, and says so", async () => {
      await store.create('t', { id: 's', metadata: entry(0, 400) });
      const old = state(300, 1);
      expect((await record('s', old))?.stateSaved).toBe(true);
      const url = 'https://example.com/'.length;
      const refused = await record('s', state(601, 2), 'failed');
      expect(refused?.stateSaved).toBe(false);
      // The render itself is recorded (request, error, url); only its state is not kept.
      expect(refused?.session).toMatchObject({ errorCount: 1, lastError: 'failed', lastUrl: 'https://example.com/' });
      expect(await store.storageState('t', 's')).toEqual(old);
      expect(await bytesOf('t')).toBe(700 + url + 'failed'.length);
      // A state that fits (counting the one it replaces) is saved; one not newer is not, and says so.
      const fits = state(1000 - 400 - url - 'failed'.length, 3);
      expect((await record('s', fits))?.stateSaved).toBe(true);
      expect(await bytesOf('t')).toBe(BUDGET);
      expect((await record('s', state(30, 2)))?.stateSaved).toBe(true);
      expect(await store.storageState('t', 's')).toEqual(fits);
      expect((await record('s'))?.stateSaved).toBeNull();
      expect((await record('s', null))?.stateSaved).toBe(true);
      expect(await store.storageState('t', 's')).toBeNull();
    });

    it('cuts last_url and last_error to 2048 characters before storing them', async () => {
      store = makeStore();
      await store.create('t', { id: 'long' });
      const url = `https://example.com/#${'h'.repeat(100_000)}`;
      await store.recordResult('t', 'long', { url, renderTimeMs: 1, error: `failed: ${'e'.repeat(100_000)}` });
      const session = await store.get('t', 'long');
      expect(session?.lastUrl).toBe(url.slice(0, 2048));
      expect(session?.lastError).toHaveLength(2048);
      expect(await bytesOf('t')).toBe(4096);
      // A cut never leaves half of a surrogate pair.
      await store.recordResult('t', 'long', { url: `${'u'.repeat(2047)}😀😀`, renderTimeMs: 1, error: null });
      expect((await store.get('t', 'long'))?.lastUrl).toBe('u'.repeat(2047));
    });
  });

  describe('listing and tenants', () => {
    it('bounds a page by bytes as well as by count; the next pages continue where it stopped', async () => {
      store = makeStore();
      // 64 keys of 3 + 4096 characters: 262,336 bytes a session, plus the listing overhead.
      const big = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${String(i).padStart(2, '0')}`, 'v'.repeat(4096)]));
      for (let i = 0; i < 6; i++) await store.create('t', { id: `big${i}`, metadata: big });
      const first = await store.list('t', 1000, null);
      // Four sessions reach 1 MiB (three do not): the page stops there.
      expect(first.items.map((s) => s.id)).toEqual(['big0', 'big1', 'big2', 'big3']);
      expect(first.after).toBe('big3');
      const second = await store.list('t', 1000, first.after);
      expect(second.items.map((s) => s.id)).toEqual(['big4', 'big5']);
      expect(second.after).toBeNull();
    });

    it('pages through live sessions in id order, each exactly once', async () => {
      for (const id of ['e', 'b', 'd', 'a', 'c']) await store.create('t', { id });
      await store.create('t', { id: 'z', config: { ttlSeconds: 1 } });
      await store.create('other', { id: 'x' });
      clock.advance(SECOND);
      const seen: string[] = [];
      let after: string | null = null;
      do {
        const page = await store.list('t', 2, after);
        seen.push(...page.items.map((s) => s.id));
        after = page.after;
      } while (after !== null);
      expect(seen).toEqual(['a', 'b', 'c', 'd', 'e']);
    });

    it('says no more follow when a page holds the rest exactly', async () => {
      for (const id of ['a', 'b', 'c', 'd']) await store.create('t', { id });
      expect(await store.list('t', 4, null)).toMatchObject({ after: null });
      expect(await store.list('t', 2, 'b')).toMatchObject({ after: null });
      expect((await store.list('t', 1, 'c')).items.map((s) => s.id)).toEqual(['d']);
      expect(await store.list('t', 1, 'c')).toMatchObject({ after: null });
    });

    it("keeps tenants apart: another tenant's session is missing", async () => {
      await store.create('alice', { id: 'shared-name', metadata: { owner: 'alice' } });
      expect(await store.get('bob', 'shared-name')).toBeNull();
      expect(await store.remove('bob', 'shared-name')).toBe(false);
      const { session: bobs } = await store.reserveRequest('bob', 'shared-name');
      expect(bobs.metadata).toEqual({});
      expect((await store.get('alice', 'shared-name'))?.requestCount).toBe(0);
    });

    it('enforces the tenant quota (429) and the global capacity (503), not counting expired sessions', async () => {
      store = makeStore({ session_max_per_tenant: 2, session_max_sessions: 3 });
      await store.create('t1', { config: { ttlSeconds: 1 } });
      await store.create('t1', {});
      const quota = await statusOf(store.create('t1', {}));
      expect(quota.status).toBe(429);
      expect(quota.message).toContain('2/2');
      await store.create('t2', {});
      expect((await statusOf(store.create('t3', {}))).status).toBe(503);
      expect((await statusOf(store.reserveRequest('t3', 'new'))).status).toBe(503);
      clock.advance(SECOND);
      await expect(store.create('t1', {})).resolves.toBeDefined();
    });
  });
}
