/**
 * The session REST API (DESIGN §2, §3) end to end over HTTP (Fastify inject), on the memory
 * backend, with a fake clock: time is advanced, never slept through.
 */
import { STATUS_CODES } from 'node:http';
import { DEFAULT_TENANT } from '../src/auth/tenant.decorator';
import { SessionStore } from '../src/session/session.store';
import { bootApp, BootedApp, ConfigOverrides, FakeClock, InjectResponse } from './support/app';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const iso = (ms: number): string => new Date(ms).toISOString();
const SEC = 1000;

interface SessionBody {
  session_id: string;
  created_at: string;
  last_accessed: string;
  expires_at: string;
  config: {
    ttl_seconds: number;
    auto_renew: boolean;
    max_requests: number;
    track_metrics: boolean;
    proxy?: { server: string; username?: string };
  };
  state: {
    request_count: number;
    error_count: number;
    last_url: string | null;
    last_error: string | null;
    total_render_time_ms: number;
    avg_render_time_ms: number;
    render_time_ms_p50: number | null;
    render_time_ms_p95: number | null;
    render_time_ms_p99: number | null;
    metadata: Record<string, string>;
  };
  remaining_requests: number | null;
}

interface ListBody {
  items: SessionBody[];
  next_cursor: string | null;
}

interface MetricsBody {
  active_sessions: number;
  total_requests: number;
  avg_render_time_ms: number;
  avg_session_age_seconds: number;
  render_time_ms_p50: number | null;
  render_time_ms_p95: number | null;
  render_time_ms_p99: number | null;
  expired_total: number;
  removed_total: number;
}

interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  request_id: string;
}

const SESSION_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

let t: BootedApp;
let clock: FakeClock;

async function boot(overrides: ConfigOverrides = {}): Promise<void> {
  await t?.close();
  clock = new FakeClock(T0);
  t = await bootApp(overrides, { clock });
}

beforeEach(() => boot());
afterEach(async () => {
  await t?.close();
  t = undefined as unknown as BootedApp;
});

// ---- small request helpers ------------------------------------------------------------------

const create = (payload?: object) => t.inject<SessionBody>({ method: 'POST', url: '/v1/sessions', payload });
const upsert = (id: string, payload?: object) => t.inject<SessionBody>({ method: 'PUT', url: `/v1/sessions/${id}`, payload });
const getOne = (id: string) => t.inject<SessionBody>({ url: `/v1/sessions/${id}` });
const patch = (id: string, payload: object) => t.inject<SessionBody>({ method: 'PATCH', url: `/v1/sessions/${id}`, payload });
const touch = (id: string) => t.inject<SessionBody>({ method: 'POST', url: `/v1/sessions/${id}/touch` });
const remove = (id: string) => t.inject({ method: 'DELETE', url: `/v1/sessions/${id}` });
const list = (query: Record<string, string> = {}) => t.inject<ListBody>({ url: '/v1/sessions', query });
const metrics = () => t.inject<MetricsBody>({ url: '/v1/sessions/metrics' });
const cleanup = () => t.inject<{ removed: number }>({ method: 'POST', url: '/v1/sessions/cleanup' });

/** Creates and asserts 201; returns the session. */
async function created(payload?: object): Promise<SessionBody> {
  const res = await create(payload);
  expect(res.status).toBe(201);
  return res.body;
}

async function metricsNow(): Promise<MetricsBody> {
  const res = await metrics();
  expect(res.status).toBe(200);
  return res.body;
}

/** The one error shape of the API, with the given status (and message fragment). */
function expectError(res: InjectResponse<unknown>, status: number, ...messageParts: (string | RegExp)[]): ErrorBody {
  expect({ status: res.status, body: res.body }).toMatchObject({ status });
  const body = res.body as ErrorBody;
  expect(body).toBeDefined();
  expect(Object.keys(body).sort()).toEqual(['error', 'message', 'request_id', 'statusCode']);
  expect(body.statusCode).toBe(status);
  expect(body.error).toBe(STATUS_CODES[status]);
  expect(typeof body.message).toBe('string');
  expect(body.message.length).toBeGreaterThan(0);
  expect(typeof body.request_id).toBe('string');
  expect(body.request_id.length).toBeGreaterThan(0);
  expect(res.headers['x-request-id']).toBe(body.request_id);
  expect(res.text).not.toMatch(/"stack"|\bat .+\.(ts|js):\d+/);
  for (const part of messageParts) expect(body.message).toMatch(part);
  return body;
}

const metadataOf = (n: number, prefix = 'k'): Record<string, string> =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, `v${i}`]));

// ---- POST /v1/sessions ----------------------------------------------------------------------

describe('POST /v1/sessions', () => {
  it('creates a session with a generated id, the default config and the exact wire format', async () => {
    const res = await create({});
    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toEqual({
      session_id: expect.stringMatching(/^rpc_session_[0-9a-f]{8,}$/),
      created_at: iso(T0),
      last_accessed: iso(T0),
      expires_at: iso(T0 + 1800 * SEC),
      config: { ttl_seconds: 1800, auto_renew: true, max_requests: 0, track_metrics: true },
      state: {
        request_count: 0,
        error_count: 0,
        last_url: null,
        last_error: null,
        total_render_time_ms: 0,
        avg_render_time_ms: 0,
        render_time_ms_p50: null,
        render_time_ms_p95: null,
        render_time_ms_p99: null,
        metadata: {},
      },
      remaining_requests: null,
    });
    expect(res.body.session_id).toMatch(SESSION_ID_RE);
  });

  it('accepts a request without any body', async () => {
    const res = await t.inject<SessionBody>({ method: 'POST', url: '/v1/sessions' });
    expect(res.status).toBe(201);
    expect(res.body.session_id).toMatch(/^rpc_session_/);
  });

  it('generates a different id each time', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) ids.add((await created()).session_id);
    expect(ids.size).toBe(5);
  });

  it('takes the config and metadata from the body; remaining_requests equals max_requests', async () => {
    const s = await created({
      ttl_seconds: 60,
      auto_renew: false,
      max_requests: 5,
      track_metrics: false,
      metadata: { user: 'alice', step: '1' },
    });
    expect(s.config).toEqual({ ttl_seconds: 60, auto_renew: false, max_requests: 5, track_metrics: false });
    expect(s.expires_at).toBe(iso(T0 + 60 * SEC));
    expect(s.remaining_requests).toBe(5);
    expect(s.state.metadata).toEqual({ user: 'alice', step: '1' });
    expect((await getOne(s.session_id)).body).toEqual(s);
  });

  it('uses session_default_ttl_seconds from config as the default ttl', async () => {
    await boot({ session_default_ttl_seconds: 90 });
    const s = await created();
    expect(s.config.ttl_seconds).toBe(90);
    expect(s.expires_at).toBe(iso(T0 + 90 * SEC));
  });

  it('uses a client-chosen id', async () => {
    const s = await created({ session_id: 'client-42.a:b_c' });
    expect(s.session_id).toBe('client-42.a:b_c');
    const got = await getOne('client-42.a:b_c');
    expect(got.status).toBe(200);
    expect(got.body.session_id).toBe('client-42.a:b_c');
  });

  it('returns 409 when the id is live, and leaves the existing session alone', async () => {
    const first = await created({ session_id: 'dup', ttl_seconds: 100, metadata: { a: '1' } });
    clock.advance(5 * SEC);
    const res = await create({ session_id: 'dup', ttl_seconds: 999, metadata: { b: '2' } });
    expectError(res, 409, /dup/);
    expect((await getOne('dup')).body).toEqual(first);
  });

  it('creates a fresh session under an id whose session has expired (201)', async () => {
    await created({ session_id: 'again', ttl_seconds: 10, metadata: { old: 'x' } });
    clock.advance(10 * SEC);
    const res = await create({ session_id: 'again', ttl_seconds: 20 });
    expect(res.status).toBe(201);
    expect(res.body.created_at).toBe(iso(T0 + 10 * SEC));
    expect(res.body.expires_at).toBe(iso(T0 + 30 * SEC));
    expect(res.body.config.ttl_seconds).toBe(20);
    expect(res.body.state.metadata).toEqual({});
  });

  it('accepts a 128-character id and serves it on every :id route', async () => {
    const id = 'x'.repeat(128);
    expect((await create({ session_id: id })).status).toBe(201);
    expect((await getOne(id)).status).toBe(200);
    expect((await touch(id)).status).toBe(200);
    expect((await patch(id, { metadata: { a: 'b' } })).status).toBe(200);
    expect((await upsert(id)).status).toBe(200);
    expect((await remove(id)).status).toBe(204);
  });

  it.each([
    ['ttl_seconds', { ttl_seconds: 0 }],
    ['ttl_seconds', { ttl_seconds: -5 }],
    ['ttl_seconds', { ttl_seconds: 1.5 }],
    ['ttl_seconds', { ttl_seconds: '60' }],
    ['ttl_seconds', { ttl_seconds: 31_536_001 }],
    ['auto_renew', { auto_renew: 'yes' }],
    ['max_requests', { max_requests: -1 }],
    ['max_requests', { max_requests: 2.5 }],
    ['track_metrics', { track_metrics: 1 }],
    ['session_id', { session_id: 'has space' }],
    ['session_id', { session_id: 'bang!' }],
    ['session_id', { session_id: '' }],
    ['session_id', { session_id: 'a'.repeat(129) }],
    ['session_id', { session_id: 42 }],
    ['bogus', { bogus: true }],
    ['metadata', { metadata: 'not-an-object' }],
    ['metadata', { metadata: ['a'] }],
  ])('rejects an invalid %s with 400 naming the field (%j)', async (field, payload) => {
    const res = await create(payload);
    expectError(res, 400, new RegExp(`\\b${field}\\b`));
    expect((await list()).body.items).toEqual([]);
  });

  it.each(['metrics', 'cleanup'])('rejects the reserved id %s with 400', async (id) => {
    const res = await create({ session_id: id });
    expectError(res, 400, /session_id/, new RegExp(id), /reserved/);
  });

  describe('metadata limits', () => {
    it('accepts the limits exactly: 64 keys, a 128-character key, a 4096-character value', async () => {
      expect((await create({ metadata: metadataOf(64) })).status).toBe(201);
      const s = await created({ metadata: { ['k'.repeat(128)]: 'v'.repeat(4096) } });
      expect(s.state.metadata['k'.repeat(128)]).toHaveLength(4096);
    });

    it.each([
      ['65 keys', { metadata: metadataOf(65) }],
      ['a 129-character key', { metadata: { ['k'.repeat(129)]: 'v' } }],
      ['an empty key', { metadata: { '': 'v' } }],
      ['a 4097-character value', { metadata: { k: 'v'.repeat(4097) } }],
      ['a number value', { metadata: { k: 1 } }],
      ['an object value', { metadata: { k: { nested: 'x' } } }],
      ['a null value (only PATCH deletes)', { metadata: { k: null } }],
    ])('rejects %s with 400 naming metadata', async (_, payload) => {
      const res = await create(payload);
      expectError(res, 400, /\bmetadata\b/);
      expect((await list()).body.items).toEqual([]);
    });
  });
});

// ---- PUT /v1/sessions/:id -------------------------------------------------------------------

describe('PUT /v1/sessions/:id (get or create)', () => {
  it('creates (201), then returns the existing session (200) keeping the first config', async () => {
    const first = await upsert('shop-1', { ttl_seconds: 60, max_requests: 3, metadata: { cart: 'a' } });
    expect(first.status).toBe(201);
    expect(first.body.session_id).toBe('shop-1');
    expect(first.body.created_at).toBe(iso(T0));
    expect(first.body.config).toEqual({ ttl_seconds: 60, auto_renew: true, max_requests: 3, track_metrics: true });
    expect(first.body.remaining_requests).toBe(3);

    clock.advance(10 * SEC);
    const second = await upsert('shop-1', { ttl_seconds: 500, max_requests: 9, metadata: { cart: 'b' } });
    expect(second.status).toBe(200);
    expect(second.body.session_id).toBe('shop-1');
    expect(second.body.created_at).toBe(iso(T0));
    expect(second.body.config).toEqual(first.body.config);
    expect(second.body.state.metadata).toEqual({ cart: 'a' });
    expect(second.body.remaining_requests).toBe(3);
  });

  it('creates with defaults when there is no body', async () => {
    const res = await upsert('plain');
    expect(res.status).toBe(201);
    expect(res.body.config).toEqual({ ttl_seconds: 1800, auto_renew: true, max_requests: 0, track_metrics: true });
  });

  it('starts a fresh session (201) when the existing one has expired', async () => {
    await upsert('p', { ttl_seconds: 5, metadata: { a: '1' } });
    clock.advance(5 * SEC);
    const res = await upsert('p', { ttl_seconds: 50 });
    expect(res.status).toBe(201);
    expect(res.body.created_at).toBe(iso(T0 + 5 * SEC));
    expect(res.body.config.ttl_seconds).toBe(50);
    expect(res.body.state.metadata).toEqual({});
  });

  it('rejects session_id in the body (the id is the path) and unknown fields', async () => {
    expectError(await upsert('p', { session_id: 'other' }), 400, /session_id/);
    expectError(await upsert('p', { bogus: 1 }), 400, /bogus/);
    expectError(await upsert('p', { ttl_seconds: 0 }), 400, /ttl_seconds/);
    expectError(await getOne('p'), 404);
  });

  it.each(['metrics', 'cleanup'])('rejects the reserved id %s with 400', async (id) => {
    expectError(await upsert(id), 400, /reserved/);
  });
});

// ---- GET /v1/sessions/:id -------------------------------------------------------------------

describe('GET /v1/sessions/:id', () => {
  it('returns 404 for an unknown id, naming it', async () => {
    expectError(await getOne('nope'), 404, /nope/);
  });

  it('does not touch and does not count', async () => {
    const s = await created({ ttl_seconds: 100 });
    clock.advance(60 * SEC);
    for (let i = 0; i < 3; i++) {
      const res = await getOne(s.session_id);
      expect(res.status).toBe(200);
      expect(res.body.last_accessed).toBe(iso(T0));
      expect(res.body.expires_at).toBe(iso(T0 + 100 * SEC));
      expect(res.body.state.request_count).toBe(0);
    }
    expect((await metricsNow()).total_requests).toBe(0);
    // Not renewed: it still expires at its original time.
    clock.advance(40 * SEC);
    expectError(await getOne(s.session_id), 404);
  });
});

// ---- expiry ---------------------------------------------------------------------------------

describe('expiry (now >= expires_at), without any cleanup', () => {
  it('is live until the millisecond before expires_at and 404 exactly at it', async () => {
    const s = await created({ ttl_seconds: 30 });
    clock.advance(30 * SEC - 1);
    expect((await getOne(s.session_id)).status).toBe(200);
    clock.advance(1);
    expectError(await getOne(s.session_id), 404, new RegExp(s.session_id));
  });

  it('hides an expired session from every route', async () => {
    const s = await created({ session_id: 'gone', ttl_seconds: 30 });
    await created({ session_id: 'stays', ttl_seconds: 300 });
    clock.advance(30 * SEC);
    const page = await list();
    expect(page.status).toBe(200);
    expect(page.body.items.map((i) => i.session_id)).toEqual(['stays']);
    expectError(await touch(s.session_id), 404);
    expectError(await patch(s.session_id, { metadata: { a: 'b' } }), 404);
    expectError(await remove(s.session_id), 404);
    expectError(await getOne(s.session_id), 404);
  });

  it('is not counted in metrics active_sessions (nor in the average age) before cleanup runs', async () => {
    await created({ session_id: 'short', ttl_seconds: 10 });
    clock.advance(5 * SEC);
    await created({ session_id: 'long', ttl_seconds: 1000 });
    clock.advance(5 * SEC); // 'short' expires exactly now; 'long' is 5 s old
    const m = await metricsNow();
    expect(m.active_sessions).toBe(1);
    expect(m.avg_session_age_seconds).toBeCloseTo(5, 3);
  });

  it('counts a session that expired exactly once in expired_total, however it was found', async () => {
    await created({ session_id: 'e1', ttl_seconds: 1 });
    await created({ session_id: 'e2', ttl_seconds: 1 });
    clock.advance(1 * SEC);
    expectError(await getOne('e1'), 404); // seen expired on access
    await cleanup(); // sweeps e2
    await cleanup();
    expect((await metricsNow()).expired_total).toBe(2);
  });
});

// ---- POST /v1/sessions/:id/touch ------------------------------------------------------------

describe('POST /v1/sessions/:id/touch', () => {
  it('with auto_renew sets last_accessed and expires_at = now + ttl', async () => {
    const s = await created({ ttl_seconds: 60 });
    clock.advance(30 * SEC);
    const res = await touch(s.session_id);
    expect(res.status).toBe(200);
    expect(res.body.session_id).toBe(s.session_id);
    expect(res.body.created_at).toBe(iso(T0));
    expect(res.body.last_accessed).toBe(iso(T0 + 30 * SEC));
    expect(res.body.expires_at).toBe(iso(T0 + 90 * SEC));
    expect(res.body.state.request_count).toBe(0);
    expect((await getOne(s.session_id)).body).toEqual(res.body);
    // Alive past its original expiry.
    clock.advance(50 * SEC);
    expect((await getOne(s.session_id)).status).toBe(200);
    clock.advance(10 * SEC);
    expectError(await getOne(s.session_id), 404);
  });

  it('without auto_renew only sets last_accessed', async () => {
    const s = await created({ ttl_seconds: 60, auto_renew: false });
    clock.advance(30 * SEC);
    const res = await touch(s.session_id);
    expect(res.status).toBe(200);
    expect(res.body.last_accessed).toBe(iso(T0 + 30 * SEC));
    expect(res.body.expires_at).toBe(iso(T0 + 60 * SEC));
    clock.advance(30 * SEC);
    expectError(await getOne(s.session_id), 404);
  });

  it('returns 404 for an unknown session', async () => {
    expectError(await touch('unknown-id'), 404, /unknown-id/);
  });
});

// ---- PATCH /v1/sessions/:id -----------------------------------------------------------------

describe('PATCH /v1/sessions/:id (JSON merge patch)', () => {
  it('merges metadata: sets, overwrites, null deletes a key, metadata: null clears all', async () => {
    const s = await created({ metadata: { a: '1', b: '2' } });
    const id = s.session_id;

    let res = await patch(id, { metadata: { b: '3', c: '4' } });
    expect(res.status).toBe(200);
    expect(res.body.state.metadata).toEqual({ a: '1', b: '3', c: '4' });

    res = await patch(id, { metadata: { a: null, missing: null } });
    expect(res.status).toBe(200);
    expect(res.body.state.metadata).toEqual({ b: '3', c: '4' });
    expect((await getOne(id)).body.state.metadata).toEqual({ b: '3', c: '4' });

    res = await patch(id, { metadata: null });
    expect(res.status).toBe(200);
    expect(res.body.state.metadata).toEqual({});
    expect((await getOne(id)).body.state.metadata).toEqual({});

    res = await patch(id, { metadata: { fresh: 'yes' } });
    expect(res.body.state.metadata).toEqual({ fresh: 'yes' });
  });

  it('an empty patch changes nothing', async () => {
    const s = await created({ metadata: { a: '1' }, ttl_seconds: 100 });
    clock.advance(10 * SEC);
    const res = await patch(s.session_id, {});
    expect(res.status).toBe(200);
    expect(res.body).toEqual(s);
  });

  it('changes ttl_seconds (expires_at counts from the change), auto_renew, max_requests, track_metrics', async () => {
    const s = await created({ ttl_seconds: 100 });
    const id = s.session_id;
    clock.advance(10 * SEC);

    let res = await patch(id, { ttl_seconds: 20 });
    expect(res.status).toBe(200);
    expect(res.body.config.ttl_seconds).toBe(20);
    expect(res.body.expires_at).toBe(iso(T0 + 30 * SEC));
    expect(res.body.created_at).toBe(iso(T0));

    res = await patch(id, { max_requests: 7 });
    expect(res.body.config.max_requests).toBe(7);
    expect(res.body.remaining_requests).toBe(7);
    res = await patch(id, { max_requests: 0 });
    expect(res.body.config.max_requests).toBe(0);
    expect(res.body.remaining_requests).toBeNull();

    res = await patch(id, { track_metrics: false });
    expect(res.body.config.track_metrics).toBe(false);

    res = await patch(id, { auto_renew: false });
    expect(res.body.config).toEqual({ ttl_seconds: 20, auto_renew: false, max_requests: 0, track_metrics: false });
    // No longer renewed by a touch.
    clock.advance(5 * SEC);
    const touched = await touch(id);
    expect(touched.body.expires_at).toBe(iso(T0 + 30 * SEC));
    expect((await getOne(id)).body.config).toEqual(res.body.config);
  });

  it('returns 404 for an unknown session', async () => {
    expectError(await patch('ghost', { metadata: { a: 'b' } }), 404, /ghost/);
  });

  it.each([
    ['ttl_seconds', { ttl_seconds: 0 }],
    ['auto_renew', { auto_renew: 'no' }],
    ['max_requests', { max_requests: -2 }],
    ['bogus', { bogus: 'x' }],
    ['session_id', { session_id: 'rename' }],
  ])('rejects an invalid %s with 400 naming it, changing nothing', async (field, payload) => {
    const s = await created({ metadata: { a: '1' } });
    expectError(await patch(s.session_id, payload), 400, new RegExp(`\\b${field}\\b`));
    expect((await getOne(s.session_id)).body).toEqual(s);
  });

  describe('metadata limits', () => {
    it.each([
      ['65 keys', { metadata: metadataOf(65) }],
      ['a 129-character key', { metadata: { ['k'.repeat(129)]: 'v' } }],
      ['a 4097-character value', { metadata: { k: 'v'.repeat(4097) } }],
      ['a number value', { metadata: { k: 7 } }],
      ['a boolean value', { metadata: { k: true } }],
      ['an array', { metadata: ['a', 'b'] }],
    ])('rejects %s with 400 naming metadata, changing nothing', async (_, payload) => {
      const s = await created({ metadata: { a: '1' } });
      expectError(await patch(s.session_id, payload), 400, /\bmetadata\b/);
      expect((await getOne(s.session_id)).body).toEqual(s);
    });

    it('rejects a patch that would bring the total over 64 keys, and changes nothing (not even the config)', async () => {
      const s = await created({ metadata: metadataOf(60), ttl_seconds: 100 });
      clock.advance(10 * SEC);
      const res = await patch(s.session_id, { metadata: metadataOf(5, 'new'), ttl_seconds: 500, max_requests: 3 });
      expectError(res, 400, /metadata/, /64/);
      const after = (await getOne(s.session_id)).body;
      expect(after).toEqual(s);
      expect(Object.keys(after.state.metadata)).toHaveLength(60);
    });

    it('accepts a patch that deletes as many keys as it adds at the 64-key limit', async () => {
      const s = await created({ metadata: metadataOf(64) });
      const res = await patch(s.session_id, { metadata: { k0: null, k1: null, x: '1', y: '2' } });
      expect(res.status).toBe(200);
      expect(Object.keys(res.body.state.metadata)).toHaveLength(64);
      expect(res.body.state.metadata).toMatchObject({ x: '1', y: '2' });
      expect(res.body.state.metadata).not.toHaveProperty('k0');
    });
  });
});

// ---- GET /v1/sessions -----------------------------------------------------------------------

describe('GET /v1/sessions (list)', () => {
  it('is empty at first', async () => {
    const res = await list();
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ items: [], next_cursor: null });
  });

  it('lists full session objects of live sessions', async () => {
    const a = await created({ session_id: 'a', metadata: { k: 'v' } });
    const b = await created({ session_id: 'b', max_requests: 2 });
    const res = await list();
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ items: [a, b], next_cursor: null });
  });

  it('pages with limit=2 over 5 sessions: every session exactly once, in session_id order', async () => {
    const ids = ['s-delta', 's-alpha', 's-echo', 's-charlie', 's-bravo'];
    for (const id of ids) await created({ session_id: id });

    const seen: string[] = [];
    const pageSizes: number[] = [];
    let cursor: string | null = null;
    for (let guard = 0; guard < 10; guard++) {
      const query: Record<string, string> = { limit: '2' };
      if (cursor !== null) query.cursor = cursor;
      const res = await list(query);
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(['items', 'next_cursor']);
      pageSizes.push(res.body.items.length);
      seen.push(...res.body.items.map((i) => i.session_id));
      cursor = res.body.next_cursor;
      if (cursor === null) break;
      expect(typeof cursor).toBe('string');
    }
    expect(cursor).toBeNull();
    expect(pageSizes).toEqual([2, 2, 1]);
    expect(seen).toEqual([...ids].sort());
  });

  it('returns no next_cursor when the page holds the rest exactly', async () => {
    for (const id of ['a', 'b', 'c']) await created({ session_id: id });
    const res = await list({ limit: '3' });
    expect(res.body.items).toHaveLength(3);
    expect(res.body.next_cursor).toBeNull();
  });

  it.each([['0'], ['1001'], ['abc'], ['1.5'], ['-1']])('rejects limit=%s with 400 naming limit', async (limit) => {
    expectError(await list({ limit }), 400, /\blimit\b/);
  });

  it('accepts limit=1000', async () => {
    expect((await list({ limit: '1000' })).status).toBe(200);
  });

  it('bounds a page by bytes too: sessions with huge metadata come a few at a time, next_cursor continues', async () => {
    // 64 keys of 4096 characters: ~262 KB a session; a page stops once it holds 1 MiB of them.
    const metadata = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`k${i}`, String(i % 10).repeat(4096)]));
    for (let i = 0; i < 9; i++) await created({ session_id: `big${i}`, metadata });
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const res: InjectResponse<ListBody> = await list({ limit: '1000', ...(cursor !== null && { cursor }) });
      expect(res.status).toBe(200);
      expect(res.text.length).toBeLessThan(1.5 * 1024 * 1024);
      pages.push(res.body.items.map((item) => item.session_id));
      cursor = res.body.next_cursor;
    } while (cursor !== null);
    expect(pages).toEqual([
      ['big0', 'big1', 'big2', 'big3'],
      ['big4', 'big5', 'big6', 'big7'],
      ['big8'],
    ]);
  });

  it.each([['!!!'], ['%%%'], ['@@@@']])('rejects a bad cursor (%s) with 400 naming cursor', async (cursor) => {
    await created({ session_id: 'a' });
    expectError(await list({ cursor }), 400, /\bcursor\b/);
  });

  it('rejects unknown query parameters with 400', async () => {
    expectError(await list({ bogus: '1' }), 400, /bogus/);
  });
});

// ---- DELETE /v1/sessions/:id ----------------------------------------------------------------

describe('DELETE /v1/sessions/:id', () => {
  it('removes (204, empty body), then 404; removed_total counts it once', async () => {
    const s = await created();
    await created();
    const before = await metricsNow();
    expect(before.removed_total).toBe(0);
    expect(before.active_sessions).toBe(2);

    const res = await remove(s.session_id);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expectError(await getOne(s.session_id), 404);
    expectError(await remove(s.session_id), 404, new RegExp(s.session_id));

    const after = await metricsNow();
    expect(after.removed_total).toBe(1);
    expect(after.active_sessions).toBe(1);
    expect(after.expired_total).toBe(0);
  });

  it('lets the id be created again', async () => {
    await created({ session_id: 'reuse', ttl_seconds: 10 });
    await remove('reuse');
    const res = await create({ session_id: 'reuse', ttl_seconds: 20 });
    expect(res.status).toBe(201);
    expect(res.body.config.ttl_seconds).toBe(20);
  });
});

// ---- GET /v1/sessions/metrics ---------------------------------------------------------------

describe('GET /v1/sessions/metrics', () => {
  it('has every field of DESIGN §3, zero/null without sessions or renders', async () => {
    const res = await metrics();
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      active_sessions: 0,
      total_requests: 0,
      avg_render_time_ms: 0,
      avg_session_age_seconds: 0,
      render_time_ms_p50: null,
      render_time_ms_p95: null,
      render_time_ms_p99: null,
      expired_total: 0,
      removed_total: 0,
    });
  });

  it('reports active sessions and their average age on the (fake) clock', async () => {
    await created();
    clock.advance(10 * SEC);
    let m = await metricsNow();
    expect(m.active_sessions).toBe(1);
    expect(m.avg_session_age_seconds).toBeCloseTo(10, 3);

    await created();
    m = await metricsNow();
    expect(m.active_sessions).toBe(2);
    expect(m.avg_session_age_seconds).toBeCloseTo(5, 3);
    expect(m.total_requests).toBe(0);
    expect(m.render_time_ms_p50).toBeNull();
  });

  it('does not count GET, touch or PATCH as requests', async () => {
    const s = await created();
    await getOne(s.session_id);
    await touch(s.session_id);
    await patch(s.session_id, { metadata: { a: 'b' } });
    expect((await metricsNow()).total_requests).toBe(0);
  });
});

// ---- POST /v1/sessions/cleanup --------------------------------------------------------------

describe('POST /v1/sessions/cleanup', () => {
  it('removes the expired sessions and says how many', async () => {
    for (let i = 0; i < 3; i++) await created({ ttl_seconds: 1 });
    const keeper = await created({ ttl_seconds: 100 });

    clock.advance(1 * SEC - 1);
    let res = await cleanup();
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ removed: 0 });

    clock.advance(1);
    res = await cleanup();
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ removed: 3 });

    const m = await metricsNow();
    expect(m.expired_total).toBe(3);
    expect(m.active_sessions).toBe(1);
    expect(m.removed_total).toBe(0);
    expect((await list()).body.items.map((i) => i.session_id)).toEqual([keeper.session_id]);

    expect((await cleanup()).body).toEqual({ removed: 0 });
    expect((await metricsNow()).expired_total).toBe(3);
  });

  it('sweeps a session by its renewed expiry, not its original one', async () => {
    const s = await created({ ttl_seconds: 10 });
    clock.advance(8 * SEC);
    await touch(s.session_id); // now expires at +18 s
    clock.advance(5 * SEC); // +13 s: past the original expiry
    expect((await cleanup()).body).toEqual({ removed: 0 });
    expect((await getOne(s.session_id)).status).toBe(200);
    clock.advance(5 * SEC); // +18 s
    expect((await cleanup()).body).toEqual({ removed: 1 });
  });

  it('sweeps a session whose ttl was shortened by PATCH', async () => {
    const s = await created({ ttl_seconds: 1000 });
    await patch(s.session_id, { ttl_seconds: 2 });
    clock.advance(2 * SEC);
    expect((await cleanup()).body).toEqual({ removed: 1 });
  });
});

// ---- capacity -------------------------------------------------------------------------------

describe('capacity', () => {
  it('answers 429 at the per-tenant quota, saying count/max', async () => {
    await boot({ session_max_per_tenant: 2 });
    await created({ session_id: 'one' });
    await created({ session_id: 'two' });
    expectError(await create(), 429, /2\/2/);
    expectError(await upsert('three'), 429, /2\/2/);
    // Getting an existing session at the cap is fine.
    expect((await upsert('one')).status).toBe(200);
    expect((await metricsNow()).active_sessions).toBe(2);
  });

  it('answers 503 at the instance capacity, saying count/max', async () => {
    await boot({ session_max_sessions: 2, session_max_per_tenant: 10 });
    await created();
    await created();
    expectError(await create(), 503, /2\/2/);
    expectError(await upsert('more'), 503, /2\/2/);
  });

  it('does not count expired sessions, swept or not', async () => {
    await boot({ session_max_per_tenant: 2 });
    await created({ ttl_seconds: 1 });
    await created({ ttl_seconds: 1 });
    clock.advance(1 * SEC);
    expect((await create()).status).toBe(201);
    expect((await create()).status).toBe(201);
    expectError(await create(), 429, /2\/2/);
  });

  it('does not count expired sessions toward the instance capacity either', async () => {
    await boot({ session_max_sessions: 2, session_max_per_tenant: 10 });
    await created({ ttl_seconds: 1 });
    await created({ ttl_seconds: 1 });
    clock.advance(1 * SEC);
    expect((await create()).status).toBe(201);
  });

  it('frees a slot when a session is deleted', async () => {
    await boot({ session_max_per_tenant: 2 });
    const a = await created();
    await created();
    expectError(await create(), 429);
    expect((await remove(a.session_id)).status).toBe(204);
    expect((await create()).status).toBe(201);
  });
});

// ---- errors ---------------------------------------------------------------------------------

describe('errors', () => {
  it('answers invalid JSON with 400 in the error shape', async () => {
    const res = await t.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: { 'content-type': 'application/json' },
      payload: '{"ttl_seconds": ',
    });
    expectError(res, 400);
    expect((await list()).body.items).toEqual([]);
  });

  it('answers a JSON body that is not an object with 400', async () => {
    const res = await t.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: { 'content-type': 'application/json' },
      payload: '"just a string"',
    });
    expectError(res, 400);
  });

  it('answers a body over body_limit_bytes with 413 in the error shape', async () => {
    await boot({ body_limit_bytes: 2048 });
    const res = await create({ metadata: { big: 'x'.repeat(3000) } });
    expectError(res, 413);
    expect((await list()).body.items).toEqual([]);
    // Just under the limit is fine.
    expect((await create({ metadata: { ok: 'x'.repeat(1500) } })).status).toBe(201);
  });

  it.each([
    ['200 characters', 'a'.repeat(200)],
    ['129 characters', 'a'.repeat(129)],
    ['an encoded slash', 'a%2Fb'],
    ['an exclamation mark', 'bad!'],
    ['a space', 'a%20b'],
  ])('rejects an :id of %s with 400 naming session_id, on every :id route', async (_, id) => {
    const url = `/v1/sessions/${id}`;
    for (const res of [
      await t.inject({ url }),
      await t.inject({ method: 'PUT', url }),
      await t.inject({ method: 'PATCH', url, payload: {} }),
      await t.inject({ method: 'DELETE', url }),
      await t.inject({ method: 'POST', url: `${url}/touch` }),
    ]) {
      expectError(res, 400, /session_id/);
    }
  });

  it('answers an :id with a malformed percent-escape with 400 in the error shape', async () => {
    const res = await t.inject({ url: '/v1/sessions/a%zz', headers: { 'x-request-id': 'bad-escape-1' } });
    expect(expectError(res, 400).request_id).toBe('bad-escape-1');
  });

  it('echoes a well-formed incoming X-Request-Id in the header and the error body', async () => {
    const headers = { 'x-request-id': 'trace-abc.123:xyz' };
    const err = await t.inject({ url: '/v1/sessions/missing', headers });
    expect(err.headers['x-request-id']).toBe('trace-abc.123:xyz');
    expect(expectError(err, 404).request_id).toBe('trace-abc.123:xyz');

    const ok = await t.inject({ method: 'POST', url: '/v1/sessions', headers, payload: {} });
    expect(ok.status).toBe(201);
    expect(ok.headers['x-request-id']).toBe('trace-abc.123:xyz');
  });

  it('mints a request id when none (or a malformed one) is given', async () => {
    const a = await t.inject({ url: '/v1/sessions/missing' });
    const b = await t.inject({ url: '/v1/sessions/missing' });
    const idA = expectError(a, 404).request_id;
    expect(idA).not.toBe(expectError(b, 404).request_id);

    const bad = await t.inject({ url: '/v1/sessions/missing', headers: { 'x-request-id': 'bad id <script>' } });
    const minted = expectError(bad, 404).request_id;
    expect(minted).not.toBe('bad id <script>');
    expect(minted).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
  });

  it('answers an unknown route with 404 in the error shape', async () => {
    expectError(await t.inject({ url: '/v1/nothing-here' }), 404);
  });
});

// ---- upstream proxy --------------------------------------------------------------------------

describe('config.proxy (upstream proxy)', () => {
  const PASSWORD = 'pa55-w0rd-never-shown';
  const proxy = { server: 'http://proxy.example:3128', username: 'alice', password: PASSWORD };
  const stored = async (id: string) => (await t.app.get(SessionStore).get(DEFAULT_TENANT, id))?.config.proxy;

  it('is accepted on POST and shown as { server, username }: the password is never returned', async () => {
    const res = await create({ session_id: 'px', proxy });
    expect(res.status).toBe(201);
    expect(res.body.config).toEqual({
      ttl_seconds: 1800,
      auto_renew: true,
      max_requests: 0,
      track_metrics: true,
      proxy: { server: 'http://proxy.example:3128', username: 'alice' },
    });
    for (const answer of [res, await getOne('px'), await touch('px'), await list(), await patch('px', { metadata: { a: 'b' } })]) {
      expect(answer.status).toBeLessThan(300);
      expect(answer.text).toContain('proxy.example');
      expect(answer.text).not.toContain(PASSWORD);
      expect(answer.text).not.toContain('password');
    }
    // Kept for the renderer, with the password.
    expect(await stored('px')).toEqual(proxy);
  });

  it('is accepted on PUT, and without credentials shows the server only', async () => {
    const res = await upsert('px-put', { proxy: { server: 'socks5://socks.example:1080' } });
    expect(res.status).toBe(201);
    expect(res.body.config).toMatchObject({ proxy: { server: 'socks5://socks.example:1080' } });
    expect(Object.keys(res.body.config.proxy ?? {})).toEqual(['server']);
    expect((await getOne('px-put')).body.config).toHaveProperty('proxy', { server: 'socks5://socks.example:1080' });
  });

  it('is absent from the wire config of a session without one', async () => {
    expect((await created({ session_id: 'plain' })).config).not.toHaveProperty('proxy');
  });

  it('is replaced as a whole by PATCH, kept by other patches, and removed by null', async () => {
    await created({ session_id: 'pp', proxy });
    const replaced = await patch('pp', { proxy: { server: 'https://other.example:8443' } });
    expect(replaced.status).toBe(200);
    expect(replaced.body.config).toHaveProperty('proxy', { server: 'https://other.example:8443' });
    expect(await stored('pp')).toEqual({ server: 'https://other.example:8443' });
    expect((await patch('pp', { ttl_seconds: 60 })).body.config).toHaveProperty('proxy', { server: 'https://other.example:8443' });
    const removed = await patch('pp', { proxy: null });
    expect(removed.status).toBe(200);
    expect(removed.body.config).not.toHaveProperty('proxy');
    expect(await stored('pp')).toBeUndefined();
    expect((await getOne('pp')).body.config).not.toHaveProperty('proxy');
  });

  it.each([
    ['an unsupported scheme', { server: 'ftp://proxy.example:21' }, /proxy\.server must be an http:\/\/, https:\/\/ or socks5:\/\/ URL/],
    ['no port', { server: 'http://proxy.example' }, /proxy\.server must be/],
    ['no scheme', { server: 'proxy.example:3128' }, /proxy\.server must be/],
    ['a path', { server: 'http://proxy.example:3128/x' }, /proxy\.server must be/],
    ['credentials in the URL', { server: `http://bob:${PASSWORD}@proxy.example:3128` }, /proxy\.server must not carry credentials/],
    ['no server', { username: 'alice' }, /proxy\.server/],
    ['a long username', { server: 'http://p.example:1', username: 'u'.repeat(257) }, /proxy\.username must be shorter than or equal to 256/],
    ['a long password', { server: 'http://p.example:1', password: 'p'.repeat(257) }, /proxy\.password must be shorter than or equal to 256/],
    ['a non-string password', { server: 'http://p.example:1', password: 5 }, /proxy\.password must be a string/],
    ['an unknown field', { server: 'http://p.example:1', bypass: '*' }, /proxy\.property bypass should not exist/],
    ['not an object', 'http://p.example:1', /proxy must be an object/],
  ])('is refused with 400 naming the field for %s (POST, PUT and PATCH)', async (_, value, message) => {
    await created({ session_id: 'target' });
    for (const res of [await create({ proxy: value }), await upsert('other', { proxy: value }), await patch('target', { proxy: value })]) {
      const body = expectError(res, 400, message);
      expect(JSON.stringify(body)).not.toContain(PASSWORD);
    }
    expect((await getOne('target')).body.config).not.toHaveProperty('proxy');
  });
});

describe('incarnation', () => {
  it('is never shown to API clients', async () => {
    const res = await create({ session_id: 'inc' });
    const { incarnation } = (await t.app.get(SessionStore).get(DEFAULT_TENANT, 'inc'))!;
    expect(incarnation).toMatch(/^[A-Za-z0-9_-]{22}$/);
    for (const answer of [res, await getOne('inc'), await list(), await touch('inc'), await upsert('inc')]) {
      expect(answer.text).not.toContain(incarnation);
      expect(answer.text).not.toContain('incarnation');
    }
  });
});

// ---- OpenAPI --------------------------------------------------------------------------------

describe('OpenAPI', () => {
  it('/docs-json is an OpenAPI document with the session routes', async () => {
    const res = await t.inject<{ openapi: string; paths: Record<string, Record<string, unknown>> }>({ url: '/docs-json' });
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\./);
    const paths = res.body.paths;
    expect(Object.keys(paths['/v1/sessions']).sort()).toEqual(['get', 'post']);
    expect(Object.keys(paths['/v1/sessions/{id}']).sort()).toEqual(['delete', 'get', 'patch', 'put']);
    expect(paths['/v1/sessions/{id}/touch']).toHaveProperty('post');
    expect(paths['/v1/sessions/metrics']).toHaveProperty('get');
    expect(paths['/v1/sessions/cleanup']).toHaveProperty('post');
  });
});
