import { startSite, Site } from './fixtures/site';
import { bootApp, BootedApp } from './support/app';
import { RENDERER_TOKEN, startRenderer } from './support/renderer';

jest.setTimeout(60_000);

describe('POST /v1/render against a real renderer and Chromium', () => {
  let site: Site;
  let renderer: Awaited<ReturnType<typeof startRenderer>>;
  let api: BootedApp;

  const render = (payload: object) => api.inject({ method: 'POST', url: '/v1/render', payload });

  beforeAll(async () => {
    site = await startSite('127.0.0.2');
    renderer = await startRenderer();
    api = await bootApp({ headless_token: RENDERER_TOKEN, headless_urls: [renderer.url], render_allowed_hosts: ['127.0.0.2'] });
  });

  afterAll(async () => {
    await api?.close();
    await renderer?.app.close();
    await site?.close();
  });

  it('renders a page without a session: no session object, no rate headers', async () => {
    const res = await render({ url: site.url('/static') });
    expect(res.status).toBe(200);
    expect(res.body.final_url).toBe(site.url('/static'));
    expect(res.body.html).toContain('<h1>static</h1>');
    expect(res.body.render_time_ms).toBeGreaterThan(0);
    expect(res.body.session).toBeUndefined();
    expect(res.headers['ratelimit-limit']).toBeUndefined();
  });

  it('keeps cookies and localStorage across requests in a session, restored after the renderer restarts', async () => {
    const login = await render({ url: site.url('/login'), session_id: 'flow-a' });
    expect(login.status).toBe(200);
    expect(login.body.session).toMatchObject({ session_id: 'flow-a', state: { request_count: 1, last_url: site.url('/login') } });

    const step2 = await render({ url: site.url('/whoami'), session_id: 'flow-a' });
    expect(step2.body.html).toContain('sid=abc123');
    expect(step2.body.html).toContain('<pre id="token">t-123</pre>');

    const other = await render({ url: site.url('/whoami'), session_id: 'flow-b' });
    expect(other.body.html).not.toContain('sid=abc123');
    expect(other.body.html).toContain('<pre id="token">null</pre>');

    const cookies = await api.inject('/v1/sessions/flow-a/cookies');
    expect(cookies.body.cookies).toEqual([
      expect.objectContaining({ name: 'sid', value: 'abc123', domain: '127.0.0.2', path: '/', http_only: false, secure: false }),
    ]);

    // The renderer goes away with every browser context; a new one starts on the same port.
    await renderer.app.close();
    renderer = await startRenderer({}, renderer.port);

    const step3 = await render({ url: site.url('/whoami'), session_id: 'flow-a' });
    expect(step3.status).toBe(200);
    expect(step3.body.html).toContain('sid=abc123');
    expect(step3.body.html).toContain('<pre id="token">t-123</pre>');
    expect(step3.body.session.state.request_count).toBe(3);
  });

  it('admits exactly max_requests of 50 concurrent renders', async () => {
    await api.inject({ method: 'POST', url: '/v1/sessions', payload: { session_id: 'limited', max_requests: 10 } });
    const results = await Promise.all(
      Array.from({ length: 50 }, () => render({ url: site.url('/static'), session_id: 'limited' })),
    );
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    expect(ok).toHaveLength(10);
    expect(refused).toHaveLength(40);
    expect(refused[0].body.message).toContain('10/10');
    expect(refused[0].headers['ratelimit-limit']).toBe('10');
    expect(refused[0].headers['ratelimit-remaining']).toBe('0');
    const remaining = ok.map((r) => Number(r.headers['ratelimit-remaining'])).sort((a, b) => a - b);
    expect(remaining).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const session = await api.inject('/v1/sessions/limited');
    expect(session.body.state.request_count).toBe(10);
    expect(session.body.remaining_requests).toBe(0);
  });

  it('creates an unknown session with the default config on render', async () => {
    const res = await render({ url: site.url('/static'), session_id: 'made-by-render' });
    expect(res.body.session.config).toEqual({ ttl_seconds: 1800, auto_renew: true, max_requests: 0, track_metrics: true });
    expect((await api.inject('/v1/sessions/made-by-render')).status).toBe(200);
  });

  it('runs actions and reports a failing one', async () => {
    const res = await render({
      url: site.url('/actions'),
      actions: [
        { type: 'click', css: '#btn' },
        { type: 'type', css: '#name', text: 'riptide' },
        { type: 'click', css: '#missing', timeout_ms: 300 },
        { type: 'js', code: 'document.title = "never"' },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.html).toContain('<p id="out">clicked</p>');
    expect(res.body.html).toContain('<p id="echo">riptide</p>');
    expect(res.body.actions_executed).toEqual(['click', 'type']);
    expect(res.body.action_error).toMatchObject({ index: 2, type: 'click' });
  });

  it('returns a screenshot and MHTML when asked', async () => {
    const res = await render({ url: site.url('/static'), artifacts: { screenshot: true, mhtml: true } });
    expect(Buffer.from(res.body.screenshot_b64, 'base64').subarray(1, 4).toString()).toBe('PNG');
    expect(Buffer.from(res.body.mhtml_b64, 'base64').toString()).toContain('MIME-Version');
  });

  it('answers 504 within the hard cap and records the failure on the session', async () => {
    const started = Date.now();
    const res = await render({ url: site.url('/slow?ms=5000'), session_id: 'slow', timeouts: { hard_cap_ms: 1000 } });
    expect(res.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(2500);
    const session = await api.inject('/v1/sessions/slow');
    expect(session.body.state).toMatchObject({ request_count: 1, error_count: 1 });
    expect(session.body.state.last_error).toEqual(expect.any(String));
  });

  it.each([
    ['file:///etc/passwd'],
    ['javascript:alert(1)'],
    // The metadata address and the other ranges are unit tests of the policy (src/egress), never rendered.
    ['http://localhost:3000/'],
    ['http://127.0.0.1:9/'],
  ])('refuses %s with 422 without using a session request', async (url) => {
    const res = await render({ url, session_id: 'ssrf' });
    expect(res.status).toBe(422);
    expect(res.body.request_id).toEqual(expect.any(String));
    expect((await api.inject('/v1/sessions/ssrf')).status).toBe(404);
  });

  it.each([
    [{ url: 'http://127.0.0.2/', bogus: 1 }, 'bogus'],
    [{ url: 'http://127.0.0.2/', actions: [{ type: 'hover', css: 'a' }] }, 'type'],
    [{ url: 'http://127.0.0.2/', session_id: 'bad id!' }, 'session_id'],
    [{ url: 'http://127.0.0.2/', timeouts: { hard_cap_ms: -5 } }, 'hard_cap_ms'],
    [{ url: 42 }, 'url'],
  ])('answers 400 naming the field for %j', async (payload, field) => {
    const res = await render(payload);
    expect(res.status).toBe(400);
    expect(res.body.message).toContain(field);
  });

  it('closes the browser context when the session is deleted', async () => {
    await render({ url: site.url('/login'), session_id: 'to-delete' });
    const before = await (await fetch(`${renderer.url}/healthz`)).json();
    expect((await api.inject({ method: 'DELETE', url: '/v1/sessions/to-delete' })).status).toBe(204);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const after = await (await fetch(`${renderer.url}/healthz`)).json();
    expect(after.contexts).toBe(before.contexts - 1);
  });
});

describe('several renderers', () => {
  it("moves a session to another renderer when its own is down, restoring its browser state there", async () => {
    const site = await startSite('127.0.0.2');
    const renderers = [await startRenderer(), await startRenderer()];
    const api = await bootApp({ headless_token: RENDERER_TOKEN, headless_urls: renderers.map((r) => r.url), render_allowed_hosts: ['127.0.0.2'] });
    const contexts = async (r: (typeof renderers)[number]) => (await (await fetch(`${r.url}/healthz`)).json()).contexts;
    try {
      const render = (url: string) => api.inject({ method: 'POST', url: '/v1/render', payload: { url, session_id: 'mover' } });
      expect((await render(site.url('/login'))).status).toBe(200);
      const counts = await Promise.all(renderers.map(contexts));
      expect(counts.sort()).toEqual([0, 1]);
      const home = renderers[(await contexts(renderers[0])) === 1 ? 0 : 1];
      const other = renderers.find((r) => r !== home)!;

      await home.app.close();
      const moved = await render(site.url('/whoami'));
      expect(moved.status).toBe(200);
      expect(moved.body.html).toContain('sid=abc123');
      expect(moved.body.html).toContain('<pre id="token">t-123</pre>');
      expect(await contexts(other)).toBe(1);
    } finally {
      await api.close();
      await Promise.all(renderers.map((r) => r.app.close()));
      await site.close();
    }
  });
});

describe('renderer failures', () => {
  it('answers 503 quickly with Retry-After when no renderer is reachable, and uses up no request', async () => {
    const api = await bootApp({ headless_token: RENDERER_TOKEN, headless_urls: ['http://127.0.0.1:9'], render_allowed_hosts: ['127.0.0.2'] });
    try {
      const started = Date.now();
      const res = await api.inject({ method: 'POST', url: '/v1/render', payload: { url: 'http://127.0.0.2/', session_id: 'dead' } });
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(Date.now() - started).toBeLessThan(1000);
      const session = await api.inject('/v1/sessions/dead');
      expect(session.body.state).toMatchObject({ request_count: 0, error_count: 0 });
    } finally {
      await api.close();
    }
  });
});

describe('embedded renderer (no HEADLESS_URLS)', () => {
  it('serves complete renders from the API process alone', async () => {
    const site = await startSite('127.0.0.2');
    const api = await bootApp({ headless_port: 0, render_allowed_hosts: ['127.0.0.2'] });
    try {
      const res = await api.inject({ method: 'POST', url: '/v1/render', payload: { url: site.url('/static'), session_id: 'emb' } });
      expect(res.status).toBe(200);
      expect(res.body.html).toContain('<h1>static</h1>');
    } finally {
      await api.close();
      await site.close();
    }
  });
});

describe('graceful shutdown', () => {
  it('finishes an in-flight render, then stops accepting and closes the renderer', async () => {
    const site = await startSite('127.0.0.2');
    const api = await bootApp({ headless_port: 0, render_allowed_hosts: ['127.0.0.2'] });
    try {
      await api.app.listen(0, '127.0.0.1');
      const base = await api.app.getUrl();
      const pending = fetch(`${base}/v1/render`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: site.url('/slow?ms=1500'), session_id: 'bye' }),
      });
      await site.waitForHits('/slow', 1); // in flight: the close must let it finish
      const closing = api.close();
      const res = await pending;
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('slept 1500');
      await closing;
      await expect(fetch(`${base}/v1/sessions`)).rejects.toThrow();
    } finally {
      await site.close();
    }
  });
});
