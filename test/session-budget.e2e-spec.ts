/**
 * The per-tenant storage budget over HTTP (DESIGN §2 "Storage budget", §3): a create, PUT or
 * PATCH that would pass SESSION_MAX_BYTES_PER_TENANT gets 429 naming the quota, without
 * Retry-After, and changes nothing, while other tenants carry on; removal gives the bytes back;
 * a render whose browser state would pass it keeps the previous state and answers
 * "state_saved": false; a page's 100 kB location.hash leaves last_url at 2048 characters.
 * Both backends; real Chromium for the renders (the site on 127.0.0.2 is allow-listed).
 * Redis: database 14, this file's alone.
 */
import { startSite, Site } from './fixtures/site';
import { bootApp, BootedApp } from './support/app';
import { deleteKeys, redisUrl } from './support/redis';
import { RENDERER_TOKEN, startRenderer, StartedRenderer } from './support/renderer';

jest.setTimeout(60_000);

const DB = 14;
const PREFIX = 'riptide:';
const BUDGET = 2000;
const KEY_A = 'key-of-tenant-a:tenant-a';
const KEY_B = 'key-of-tenant-b:tenant-b';
const as = (key: string) => ({ authorization: `Bearer ${key.split(':')[0]}` });

/** Metadata of exactly `bytes` UTF-8 bytes (one key). */
const metadataOf = (bytes: number, key = 'k'): Record<string, string> => ({ [key]: 'v'.repeat(bytes - key.length) });

const BACKENDS: Array<[string, Record<string, unknown>]> = [
  ['memory', {}],
  ['redis', { session_backend: 'redis', redis_url: redisUrl(DB) }],
];

describe.each(BACKENDS)('tenant storage budget (%s backend)', (_name, backend) => {
  let site: Site;
  let renderer: StartedRenderer;
  let api: BootedApp;

  const call = (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: object, key = KEY_A) =>
    api.inject({ method, url, payload, headers: as(key) });
  const storedBytes = async (key = KEY_A): Promise<number> => (await call('GET', '/v1/sessions/metrics', undefined, key)).body.stored_bytes;

  const expectQuota = (res: Awaited<ReturnType<typeof call>>, bytes: number): void => {
    expect({ status: res.status, message: res.body?.message }).toEqual({
      status: 429,
      message: `tenant storage quota exceeded: ${bytes}/${BUDGET} bytes`,
    });
    // Waiting does not free stored bytes: no Retry-After (DESIGN §3).
    expect(res.headers['retry-after']).toBeUndefined();
  };

  beforeAll(async () => {
    await deleteKeys(DB, PREFIX);
    site = await startSite('127.0.0.2');
    renderer = await startRenderer();
  });

  beforeEach(async () => {
    api = await bootApp({
      ...backend,
      api_keys: [KEY_A, KEY_B],
      headless_urls: [renderer.url],
      headless_token: RENDERER_TOKEN,
      render_allowed_hosts: ['127.0.0.2'],
      session_max_bytes_per_tenant: BUDGET,
    });
  });

  afterEach(async () => {
    await api?.close();
    await deleteKeys(DB, PREFIX);
  });

  afterAll(async () => {
    await renderer?.app.close();
    await site?.close();
  });

  it('answers a create, PUT or PATCH over the budget with 429 naming it and changes nothing; other tenants are unaffected', async () => {
    expect((await call('POST', '/v1/sessions', { session_id: 'a', metadata: metadataOf(1500) })).status).toBe(201);
    expectQuota(await call('POST', '/v1/sessions', { session_id: 'b', metadata: metadataOf(501) }), 2001);
    expectQuota(await call('PUT', '/v1/sessions/b', { metadata: metadataOf(600) }), 2100);
    expect((await call('GET', '/v1/sessions/b')).status).toBe(404);
    expectQuota(await call('PATCH', '/v1/sessions/a', { ttl_seconds: 5, metadata: { extra: 'x'.repeat(496) } }), 2001);
    const a = (await call('GET', '/v1/sessions/a')).body;
    expect(a.config.ttl_seconds).toBe(1800);
    expect(a.state.metadata).toEqual(metadataOf(1500));
    expect(await storedBytes()).toBe(1500);

    // Tenant B has its own budget, whatever A holds.
    expect((await call('POST', '/v1/sessions', { session_id: 'a', metadata: metadataOf(2000) }, KEY_B)).status).toBe(201);
    expect(await storedBytes(KEY_B)).toBe(2000);

    // DELETE gives A's bytes back at once.
    expect((await call('DELETE', '/v1/sessions/a')).status).toBe(204);
    expect(await storedBytes()).toBe(0);
    expect((await call('POST', '/v1/sessions', { session_id: 'b', metadata: metadataOf(2000) })).status).toBe(201);
  });

  it('keeps the previous browser state when the new one would pass the budget, and says "state_saved": false', async () => {
    const render = (sessionId: string, path: string, key = KEY_A) =>
      call('POST', '/v1/render', { url: site.url(path), session_id: sessionId }, key);
    const first = await render('s', '/static');
    expect(first.status).toBe(200);
    expect(first.body.state_saved).toBe(true);
    // Fill the budget but for less than the login's cookie and localStorage need.
    const used = await storedBytes();
    expect((await call('PATCH', '/v1/sessions/s', { metadata: metadataOf(BUDGET - used - 50) })).status).toBe(200);

    const login = await render('s', '/login');
    expect(login.status).toBe(200);
    expect(login.body.state_saved).toBe(false);
    expect(login.body.session.state.last_url).toBe(site.url('/login'));
    expect((await call('GET', '/v1/sessions/s/cookies')).body.cookies).toEqual([]);
    expect(await storedBytes()).toBeLessThanOrEqual(BUDGET);

    // The same render in tenant B, which has room, keeps its state.
    const other = await render('s', '/login', KEY_B);
    expect(other.body.state_saved).toBe(true);
    expect((await call('GET', '/v1/sessions/s/cookies', undefined, KEY_B)).body.cookies).toEqual([
      expect.objectContaining({ name: 'sid', value: 'abc123' }),
    ]);
    // A render without a session has no state to keep.
    expect((await call('POST', '/v1/render', { url: site.url('/static') })).body.state_saved).toBeUndefined();

    // Once the budget has room, the next render offers the state it could not keep again,
    // though that render changes nothing.
    expect((await call('PATCH', '/v1/sessions/s', { metadata: null })).status).toBe(200);
    const again = await render('s', '/static');
    expect(again.body.state_saved).toBe(true);
    expect((await call('GET', '/v1/sessions/s/cookies')).body.cookies).toEqual([
      expect.objectContaining({ name: 'sid', value: 'abc123' }),
    ]);
  });

  it('stores at most 2048 characters of a 100 kB location.hash as last_url', async () => {
    const res = await call('POST', '/v1/render', {
      url: site.url('/static'),
      session_id: 'hash',
      actions: [{ type: 'js', code: "location.hash = 'h'.repeat(100000)" }],
    });
    expect(res.status).toBe(200);
    expect(res.body.final_url.length).toBeGreaterThan(100_000);
    const lastUrl = (await call('GET', '/v1/sessions/hash')).body.state.last_url as string;
    expect(lastUrl).toHaveLength(2048);
    expect(res.body.final_url.startsWith(lastUrl)).toBe(true);
  });
});
