/**
 * Browser state belongs to one incarnation of a session (DESIGN §2): a session created again
 * under an old id — after it expired (not swept), after DELETE, after a renderer restart —
 * starts with no cookies, localStorage or sessionStorage, on both backends; and no tenant
 * reaches another's browser state. Real Chromium; the site on 127.0.0.2 is allow-listed.
 * Redis: database 11, this file's alone.
 */
import { startSite, Site } from './fixtures/site';
import { bootApp, BootedApp, FakeClock } from './support/app';
import { deleteKeys, redisUrl } from './support/redis';
import { RENDERER_TOKEN, startRenderer, StartedRenderer } from './support/renderer';

jest.setTimeout(60_000);

const DB = 11;
const PREFIX = 'riptide:';
const KEY_A = 'key-of-tenant-a:tenant-a';
const KEY_B = 'key-of-tenant-b:tenant-b';
const as = (key: string) => ({ authorization: `Bearer ${key.split(':')[0]}` });

/** What the page shows of the browser state it finds: cookie, localStorage and sessionStorage. */
interface Seen {
  cookie: string;
  token: string;
  step: string;
}

const BACKENDS: Array<[string, Record<string, unknown>]> = [
  ['memory', {}],
  ['redis', { session_backend: 'redis', redis_url: redisUrl(DB) }],
];

describe.each(BACKENDS)('session incarnations (%s backend)', (_name, backend) => {
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 12));
  let site: Site;
  let renderer: StartedRenderer;
  let api: BootedApp;

  const render = (sessionId: string, path: string, key = KEY_A, actions: object[] = []) =>
    api.inject({
      method: 'POST',
      url: '/v1/render',
      headers: as(key),
      payload: { url: site.url(path), session_id: sessionId, actions },
    });

  /** Logs in (cookie + localStorage) and writes sessionStorage in the session's tab. */
  const logIn = async (sessionId: string, key = KEY_A): Promise<void> => {
    const res = await render(sessionId, '/login', key, [{ type: 'js', code: "sessionStorage.setItem('step', 'one')" }]);
    expect(res.status).toBe(200);
  };

  const look = async (sessionId: string, key = KEY_A): Promise<Seen> => {
    const res = await render(sessionId, '/whoami', key, [
      { type: 'js', code: "document.body.dataset.step = String(sessionStorage.getItem('step'))" },
    ]);
    expect(res.status).toBe(200);
    const html = res.body.html as string;
    return {
      cookie: /<pre id="cookie">([^<]*)<\/pre>/.exec(html)?.[1] ?? '?',
      token: /<pre id="token">([^<]*)<\/pre>/.exec(html)?.[1] ?? '?',
      step: /data-step="([^"]*)"/.exec(html)?.[1] ?? '?',
    };
  };
  const LOGGED_IN: Seen = { cookie: 'sid=abc123', token: 't-123', step: 'one' };
  const FRESH: Seen = { cookie: '', token: 'null', step: 'null' };

  beforeAll(async () => {
    await deleteKeys(DB, PREFIX);
    site = await startSite('127.0.0.2');
    renderer = await startRenderer();
    api = await bootApp(
      {
        ...backend,
        api_keys: [KEY_A, KEY_B],
        headless_urls: [renderer.url],
        headless_token: RENDERER_TOKEN,
        render_allowed_hosts: ['127.0.0.2'],
      },
      { clock },
    );
  });

  afterAll(async () => {
    await api?.close();
    await renderer?.app.close();
    await site?.close();
    await deleteKeys(DB, PREFIX);
  });

  it('keeps the state within one incarnation (the control for the cases below)', async () => {
    await logIn('kept');
    expect(await look('kept')).toEqual(LOGGED_IN);
  });

  it('starts fresh after expiry, before any sweep', async () => {
    const created = await api.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: as(KEY_A),
      payload: { session_id: 'short', ttl_seconds: 2, auto_renew: false },
    });
    expect(created.status).toBe(201);
    await logIn('short');
    clock.advance(2_000);
    expect((await api.inject({ url: '/v1/sessions/short', headers: as(KEY_A) })).status).toBe(404);
    expect(await look('short')).toEqual(FRESH);
  });

  it('starts fresh after DELETE', async () => {
    await logIn('deleted');
    expect((await api.inject({ method: 'DELETE', url: '/v1/sessions/deleted', headers: as(KEY_A) })).status).toBe(204);
    expect(await look('deleted')).toEqual(FRESH);
  });

  it('restores the state after a renderer restart, but not into a new incarnation', async () => {
    await logIn('restart');
    await logIn('restart-gone');
    const port = renderer.port;
    await renderer.app.close();
    renderer = await startRenderer({}, port);

    const restored = await look('restart');
    expect([restored.cookie, restored.token]).toEqual([LOGGED_IN.cookie, LOGGED_IN.token]); // a new tab: no sessionStorage
    expect((await api.inject({ method: 'DELETE', url: '/v1/sessions/restart-gone', headers: as(KEY_A) })).status).toBe(204);
    expect(await look('restart-gone')).toEqual(FRESH);
  });

  it("closes an expired session's browser context when the sweep removes it", async () => {
    const contexts = async (): Promise<number> => (await (await fetch(`${renderer.url}/healthz`)).json()).contexts;
    await api.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: as(KEY_A),
      payload: { session_id: 'swept', ttl_seconds: 5, auto_renew: false },
    });
    await logIn('swept');
    const before = await contexts();
    clock.advance(5_000);
    const cleanup = await api.inject({ method: 'POST', url: '/v1/sessions/cleanup', headers: as(KEY_A) });
    expect(cleanup.body.removed).toBeGreaterThanOrEqual(1);
    const until = Date.now() + 5_000;
    while ((await contexts()) >= before && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(await contexts()).toBeLessThan(before);
  });

  it("gives tenant B none of tenant A's state under the same session id", async () => {
    await logIn('same-name', KEY_A);
    expect(await look('same-name', KEY_B)).toEqual(FRESH);
    const cookies = await api.inject({ url: '/v1/sessions/same-name/cookies', headers: as(KEY_B) });
    expect(cookies.body.cookies).toEqual([]);
    expect(await look('same-name', KEY_A)).toEqual(LOGGED_IN);
  });
});
