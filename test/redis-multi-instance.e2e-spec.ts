/**
 * Two API instances on one Redis (DESIGN §4): a session created through one is read, patched,
 * listed, limited and removed through the other, and concurrent updates through both lose
 * nothing. Both apps run on the same fake clock and one real renderer; renders go to a closed
 * port, so they run and fail after their request was reserved (what the limit test needs).
 * Database 13.
 */
import { bootApp, BootedApp, FakeClock } from './support/app';
import { deadSiteUrl } from './support/ports';
import { deleteKeys, redisUrl } from './support/redis';
import { RENDERER_TOKEN, startRenderer, StartedRenderer } from './support/renderer';

jest.setTimeout(30_000);

const DB = 13;
const PREFIX = 'riptide:'; // the backend's default prefix; this database is this file's alone
const T0 = Date.UTC(2026, 0, 1, 12);
const SEC = 1000;

describe('two API instances sharing sessions through Redis', () => {
  const clock = new FakeClock(T0);
  let a: BootedApp;
  let b: BootedApp;
  let renderer: StartedRenderer;
  let deadUrl: string;

  beforeAll(async () => {
    await deleteKeys(DB, PREFIX);
    renderer = await startRenderer();
    deadUrl = await deadSiteUrl();
    const overrides = {
      session_backend: 'redis',
      redis_url: redisUrl(DB),
      headless_urls: [renderer.url],
      headless_token: RENDERER_TOKEN,
      render_allowed_hosts: ['127.0.0.2'],
    };
    [a, b] = await Promise.all([bootApp(overrides, { clock }), bootApp(overrides, { clock })]);
  });

  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await renderer?.app.close();
    await deleteKeys(DB, PREFIX);
  });

  it('creates on one instance; GET, PATCH, list, metrics and DELETE on the other', async () => {
    const created = await a.inject({
      method: 'POST',
      url: '/v1/sessions',
      payload: { session_id: 'shared', ttl_seconds: 120, max_requests: 5, metadata: { owner: 'a' } },
    });
    expect(created.status).toBe(201);

    const read = await b.inject({ url: '/v1/sessions/shared' });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(created.body);

    clock.advance(SEC);
    const patched = await b.inject({
      method: 'PATCH',
      url: '/v1/sessions/shared',
      payload: { metadata: { owner: null, step: 'two' }, ttl_seconds: 300 },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.state.metadata).toEqual({ step: 'two' });
    expect(patched.body.expires_at).toBe(new Date(clock.now() + 300 * SEC).toISOString());

    const again = await a.inject({ url: '/v1/sessions/shared' });
    expect(again.body.state.metadata).toEqual({ step: 'two' });
    expect(again.body.config.ttl_seconds).toBe(300);

    expect((await a.inject({ method: 'PUT', url: '/v1/sessions/shared' })).status).toBe(200);
    expect((await b.inject({ method: 'POST', url: '/v1/sessions', payload: { session_id: 'shared' } })).status).toBe(409);
    const list = await b.inject({ url: '/v1/sessions' });
    expect(list.body.items.map((s: { session_id: string }) => s.session_id)).toContain('shared');
    expect((await b.inject({ url: '/v1/sessions/metrics' })).body.active_sessions).toBeGreaterThanOrEqual(1);

    expect((await a.inject({ method: 'DELETE', url: '/v1/sessions/shared' })).status).toBe(204);
    expect((await b.inject({ url: '/v1/sessions/shared' })).status).toBe(404);
    expect((await b.inject({ method: 'DELETE', url: '/v1/sessions/shared' })).status).toBe(404);
  });

  it('loses no update when both instances touch and patch metadata concurrently', async () => {
    await a.inject({ method: 'POST', url: '/v1/sessions', payload: { session_id: 'busy', ttl_seconds: 60 } });
    clock.advance(10 * SEC);
    const requests = Array.from({ length: 60 }, (_, i) => {
      const app = i % 2 ? a : b;
      return i % 3 === 0
        ? app.inject({ method: 'POST', url: '/v1/sessions/busy/touch' })
        : app.inject({ method: 'PATCH', url: '/v1/sessions/busy', payload: { metadata: { [`k${i}`]: `v${i}` } } });
    });
    const responses = await Promise.all(requests);
    expect(responses.map((r) => r.status).filter((s) => s !== 200)).toEqual([]);

    const session = (await b.inject({ url: '/v1/sessions/busy' })).body;
    expect(Object.keys(session.state.metadata)).toHaveLength(40);
    expect(session.state.metadata.k59).toBe('v59');
    expect(session.last_accessed).toBe(new Date(clock.now()).toISOString());
    expect(session.expires_at).toBe(new Date(clock.now() + 60 * SEC).toISOString());
  });

  it('admits exactly max_requests renders across both instances', async () => {
    await b.inject({ method: 'POST', url: '/v1/sessions', payload: { session_id: 'limited', max_requests: 3 } });
    const renders = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        (i % 2 ? a : b).inject({ method: 'POST', url: '/v1/render', payload: { url: deadUrl, session_id: 'limited' } }),
      ),
    );
    const limited = renders.filter((r) => r.status === 429);
    expect(limited).toHaveLength(9);
    expect(limited[0].body.message).toContain('3/3');
    // The admitted ones reached the (unreachable) renderer and failed there, not at the limit.
    expect(renders.filter((r) => r.status !== 429).every((r) => r.status >= 502 && r.status <= 504)).toBe(true);
    const session = (await a.inject({ url: '/v1/sessions/limited' })).body;
    expect(session.state.request_count).toBe(3);
    expect(session.state.error_count).toBe(3);
    expect(session.remaining_requests).toBe(0);
  });

  it('expires a session for both instances at expires_at, before any sweep', async () => {
    await a.inject({ method: 'POST', url: '/v1/sessions', payload: { session_id: 'short', ttl_seconds: 5 } });
    clock.advance(5 * SEC - 1);
    expect((await b.inject({ url: '/v1/sessions/short' })).status).toBe(200);
    clock.advance(1);
    expect((await b.inject({ url: '/v1/sessions/short' })).status).toBe(404);
    expect((await a.inject({ url: '/v1/sessions/short' })).status).toBe(404);
  });
});
