/**
 * Fair sharing (DESIGN §5): renders waiting for a renderer slot are served across tenants in
 * turn, and RENDER_MAX_CONCURRENT_PER_TENANT caps one tenant's renders in flight (429 +
 * Retry-After, no session request used). Real Chromium, embedded renderer, site on 127.0.0.2.
 */
import { startSite, Site } from './fixtures/site';
import { bootApp, BootedApp } from './support/app';

jest.setTimeout(60_000);

const KEY_A = 'key-of-tenant-a:tenant-a';
const KEY_B = 'key-of-tenant-b:tenant-b';
const as = (key: string) => ({ authorization: `Bearer ${key.split(':')[0]}` });

/** The API with both tenants' keys, an embedded renderer and the site allow-listed. */
const startApi = (overrides: Record<string, unknown>): Promise<BootedApp> =>
  bootApp({ api_keys: [KEY_A, KEY_B], render_allowed_hosts: ['127.0.0.2'], ...overrides });

describe('fair sharing of renderer slots', () => {
  let site: Site;
  let api: BootedApp;

  const render = (key: string, path: string, extra: object = {}) =>
    api.inject({ method: 'POST', url: '/v1/render', headers: as(key), payload: { url: site.url(path), ...extra } });

  beforeAll(async () => {
    site = await startSite('127.0.0.2');
    api = await startApi({ headless_max_concurrency: 2, headless_max_queue: 32 });
    await render(KEY_B, '/static'); // Chromium is up before the clock starts
  });

  afterAll(async () => {
    await api?.close();
    await site?.close();
  });

  it("serves tenant B's render between tenant A's queued ones, not after all of them", async () => {
    // 2 slots, A's 12 renders of 1.5 s: 2 run, 10 wait; A's backlog drains after 6 rounds ≈ 9 s.
    // FIFO would make B wait behind all 10 (≈ 7.5 s more); in turns B takes the next free
    // slot, so it is done within about one round (1.5 s) plus its own render.
    const started = Date.now();
    const slowBefore = site.hits('/slow');
    const backlog = Array.from({ length: 12 }, () =>
      render(KEY_A, '/slow?ms=1500').then((res) => ({ status: res.status, at: Date.now() - started })),
    );
    await site.waitForHits('/slow', slowBefore + 2); // A's renders hold both slots, the rest queue
    const b = await render(KEY_B, '/static');
    const bDone = Date.now() - started;
    const a = await Promise.all(backlog);

    expect(b.status).toBe(200);
    expect(a.every((r) => r.status === 200)).toBe(true);
    const aDone = Math.max(...a.map((r) => r.at));
    // Generous bounds for a loaded machine; FIFO would give bDone ≈ aDone ≥ 9 s.
    expect(bDone).toBeLessThan(6_000);
    expect(aDone - bDone).toBeGreaterThan(3_000);
    // At least 8 of A's renders finish after B: FIFO would have finished all 12 first.
    expect(a.filter((r) => r.at > bDone).length).toBeGreaterThanOrEqual(8);
  });
});

describe('RENDER_MAX_CONCURRENT_PER_TENANT', () => {
  let site: Site;
  let api: BootedApp;

  beforeAll(async () => {
    site = await startSite('127.0.0.2');
    api = await startApi({ render_max_concurrent_per_tenant: 2 });
  });

  afterAll(async () => {
    await api?.close();
    await site?.close();
  });

  it('answers 429 with Retry-After beyond the cap, uses up no session request, and leaves other tenants alone', async () => {
    const render = (key: string, path: string, sessionId?: string) =>
      api.inject({
        method: 'POST',
        url: '/v1/render',
        headers: as(key),
        payload: { url: site.url(path), ...(sessionId ? { session_id: sessionId } : {}) },
      });
    const slowBefore = site.hits('/slow');
    const running = [render(KEY_A, '/slow?ms=1500'), render(KEY_A, '/slow?ms=1500')];
    await site.waitForHits('/slow', slowBefore + 2);

    const refused = await render(KEY_A, '/static', 'capped');
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.body.message).toBe('tenant render concurrency limit reached (2/2)');
    expect((await api.inject({ url: '/v1/sessions/capped', headers: as(KEY_A) })).status).toBe(404);

    expect((await render(KEY_B, '/static')).status).toBe(200);
    expect((await Promise.all(running)).map((r) => r.status)).toEqual([200, 200]);
    // The slots came back with the answers.
    expect((await render(KEY_A, '/static', 'capped')).status).toBe(200);
  });
});
