import { createHash } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppConfig, ConfigError, loadConfig } from '../src/config/app-config';
import { decodeRenderParts, RENDER_PART_LENGTHS_HEADER, RENDER_PARTS_TYPE } from '../src/renderer-rpc';
import type { RenderResponse, StorageState } from '../src/renderer-rpc';
import { BrowserService } from '../src/headless/browser.service';
import { createHeadlessApp } from '../src/headless/headless.app';
import { Site, startSite } from './fixtures/site';
import { closedPort } from './support/ports';
import { RENDERER_TOKEN, startRenderer as startStandalone } from './support/renderer';

jest.setTimeout(30_000);

const TOKEN = RENDERER_TOKEN;
const AUTH = { authorization: `Bearer ${TOKEN}` };

/** A context key as the API would send it (any 64 hex characters will do for the renderer). */
const key = (name: string): string => createHash('sha256').update(name).digest('hex');

interface Renderer {
  app: NestFastifyApplication;
  base: string;
  post(body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  /** DELETE /contexts/:key with the token. */
  closeContext(contextKey: string): Promise<Response>;
}

async function startRenderer(overrides: Partial<Record<keyof AppConfig, unknown>> = {}): Promise<Renderer> {
  const { app, url: base } = await startStandalone(overrides);
  return {
    app,
    base,
    post: async (body, headers = {}) => {
      const res = await fetch(`${base}/render`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...AUTH, ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { status: res.status, body: await res.json(), headers: res.headers };
    },
    closeContext: (contextKey) => fetch(`${base}/contexts/${contextKey}`, { method: 'DELETE', headers: AUTH }),
  };
}

describe('headless renderer (real Chromium)', () => {
  let site: Site;
  let other: Site; // another site: its frames in a page of `site` run out of process
  let r: Renderer;

  beforeAll(async () => {
    site = await startSite('127.0.0.2');
    other = await startSite('127.0.0.3');
    r = await startRenderer({ render_timeout_ms: 10_000, render_allowed_hosts: ['127.0.0.2', '127.0.0.3'] });
  });

  afterAll(async () => {
    await r?.app.close();
    await site?.close();
    await other?.close();
  });

  it('renders a page', async () => {
    const { status, body, headers } = await r.post({ url: site.url('/static') }, { 'x-request-id': 'req-1' });
    expect(status).toBe(200);
    expect(headers.get('x-request-id')).toBe('req-1');
    const res = body as RenderResponse;
    expect(res.final_url).toBe(site.url('/static'));
    expect(res.html).toContain('<h1>static</h1>');
    expect(res.render_time_ms).toBeGreaterThan(0);
    expect(res).toMatchObject({
      screenshot_b64: null,
      mhtml_b64: null,
      actions_executed: [],
      action_error: null,
      storage_state: null,
      state_seq: null,
      context_reused: false,
    });
  });

  it('reports the final URL after a redirect', async () => {
    const { status, body } = await r.post({ url: site.url('/redirect') });
    expect(status).toBe(200);
    expect(body.final_url).toBe(site.url('/whoami'));
  });

  it('runs all six action types in order', async () => {
    const { status, body } = await r.post({
      url: site.url('/actions'),
      actions: [
        { type: 'wait_for_css', css: '#late' },
        { type: 'wait_for_js', expr: 'window.ready === true' },
        { type: 'click', css: '#btn' },
        { type: 'type', css: '#name', text: 'Ada', delay_ms: 5 },
        { type: 'js', code: "document.getElementById('out').dataset.js = 'ran'" },
        { type: 'scroll', steps: 2, step_px: 400, delay_ms: 50 },
      ],
    });
    expect(status).toBe(200);
    expect(body.action_error).toBeNull();
    expect(body.actions_executed).toEqual(['wait_for_css', 'wait_for_js', 'click', 'type', 'js', 'scroll']);
    expect(body.html).toContain('late arrival');
    expect(body.html).toContain('<p id="out" data-js="ran">clicked</p>');
    expect(body.html).toContain('<p id="echo">Ada</p>');
    expect(body.html).toContain('<p id="scrolled">800</p>');
  });

  it('scroll_steps scrolls one viewport per step', async () => {
    const { body } = await r.post({ url: site.url('/actions'), scroll_steps: 2 });
    const scrolled = Number(/<p id="scrolled">(\d+)<\/p>/.exec(body.html)?.[1]);
    expect(scrolled).toBe(2 * 720); // Playwright's default viewport is 1280x720
  });

  it('stops at a failing action, reports it, and still returns the page', async () => {
    const { status, body } = await r.post({
      url: site.url('/actions'),
      actions: [
        { type: 'click', css: '#btn' },
        { type: 'click', css: '#missing', timeout_ms: 300 },
        { type: 'type', css: '#name', text: 'never' },
      ],
    });
    expect(status).toBe(200);
    expect(body.actions_executed).toEqual(['click']);
    expect(body.action_error).toMatchObject({ index: 1, type: 'click' });
    expect(body.action_error.message).toMatch(/^click "#missing": .*timeout/i);
    expect(body.html).toContain('clicked');
    expect(body.html).not.toContain('never');
  });

  it('returns a full-page PNG screenshot and MHTML', async () => {
    const { status, body } = await r.post({ url: site.url('/static'), artifacts: { screenshot: true, mhtml: true } });
    expect(status).toBe(200);
    const png = Buffer.from(body.screenshot_b64, 'base64');
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const mhtml = Buffer.from(body.mhtml_b64, 'base64').toString('utf8');
    expect(mhtml.startsWith('From:') || mhtml.includes('MIME-Version')).toBe(true);
    expect(body).not.toHaveProperty('artifacts'); // each artifact once
  });

  it('keeps cookies and localStorage in a session context, isolated from other sessions', async () => {
    const login = await r.post({ url: site.url('/login'), context_key: key('e2e-alice') });
    expect(login.status).toBe(200);
    expect(login.body.context_reused).toBe(false);

    const whoami = await r.post({ url: site.url('/whoami'), context_key: key('e2e-alice') });
    expect(whoami.body.context_reused).toBe(true);
    expect(whoami.body.html).toContain('<pre id="cookie">sid=abc123</pre>');
    expect(whoami.body.html).toContain('<pre id="token">t-123</pre>');

    const other = await r.post({ url: site.url('/whoami'), context_key: key('e2e-bob') });
    expect(other.body.html).toContain('<pre id="cookie"></pre>');
    expect(other.body.html).toContain('<pre id="token">null</pre>');

    const anonymous = await r.post({ url: site.url('/whoami') });
    expect(anonymous.body.html).toContain('<pre id="token">null</pre>');
  });

  it('keeps a session tab between renders (sessionStorage survives), but starts over after a failed one', async () => {
    const set = await r.post({
      url: site.url('/static'),
      context_key: key('e2e-tab'),
      actions: [{ type: 'js', code: "sessionStorage.setItem('step', 'one')" }],
    });
    expect(set.status).toBe(200);
    const readBack = { type: 'js', code: "document.body.dataset.step = String(sessionStorage.getItem('step'))" };
    const next = await r.post({ url: site.url('/static'), context_key: key('e2e-tab'), actions: [readBack] });
    expect(next.body.html).toContain('data-step="one"');

    const failed = await r.post({ url: site.url('/slow?ms=3000'), context_key: key('e2e-tab'), timeouts: { hard_cap_ms: 500 } });
    expect(failed.status).toBe(504);
    const after = await r.post({ url: site.url('/static'), context_key: key('e2e-tab'), actions: [readBack] });
    expect(after.body.html).toContain('data-step="null"');
    await r.closeContext(key('e2e-tab'));
  });

  it('exports storage_state and restores it into a cold context', async () => {
    const login = await r.post({ url: site.url('/login'), context_key: key('e2e-carol') });
    const state = login.body.storage_state as StorageState;
    expect(state.cookies).toEqual([expect.objectContaining({ name: 'sid', value: 'abc123', domain: '127.0.0.2' })]);
    expect(state.origins).toEqual([
      { origin: new URL(site.url('/')).origin, localStorage: [{ name: 'token', value: 't-123' }] },
    ]);

    const del = await r.closeContext(key('e2e-carol'));
    expect(del.status).toBe(204);

    const cold = await r.post({ url: site.url('/whoami'), context_key: key('e2e-carol') });
    expect(cold.body.context_reused).toBe(false);
    expect(cold.body.html).toContain('<pre id="token">null</pre>');
    await r.closeContext(key('e2e-carol'));

    const restored = await r.post({ url: site.url('/whoami'), context_key: key('e2e-carol'), storage_state: state });
    expect(restored.status).toBe(200);
    expect(restored.body.context_reused).toBe(false);
    expect(restored.body.html).toContain('<pre id="cookie">sid=abc123</pre>');
    expect(restored.body.html).toContain('<pre id="token">t-123</pre>');
  });

  it('renders a request that left its state out only in a warm context: 409 state_required before running anything, else as usual', async () => {
    const contexts = async () => ((await (await fetch(`${r.base}/healthz`)).json()) as { contexts: number }).contexts;
    const before = await contexts();
    const cold = await r.post({ url: site.url('/login'), context_key: key('e2e-omitted'), state_seq: 3, state_omitted: true });
    expect(cold.status).toBe(409);
    expect(cold.body).toEqual(expect.objectContaining({ kind: 'state_required', error: expect.stringContaining('storage_state') }));
    expect(await contexts()).toBe(before); // no context was created for it

    const login = await r.post({ url: site.url('/login'), context_key: key('e2e-omitted'), storage_state: { cookies: [], origins: [] }, state_seq: 3 });
    expect(login.status).toBe(200);
    const warm = await r.post({ url: site.url('/whoami'), context_key: key('e2e-omitted'), state_seq: 4, state_omitted: true });
    expect(warm.status).toBe(200);
    expect(warm.body.context_reused).toBe(true);
    expect(warm.body.html).toContain('<pre id="cookie">sid=abc123</pre>');
    expect(warm.body.state_seq).toBe(4);

    await r.closeContext(key('e2e-omitted'));
    const closed = await r.post({ url: site.url('/whoami'), context_key: key('e2e-omitted'), state_seq: 4, state_omitted: true });
    expect(closed.status).toBe(409);
  });

  it("replaces a warm context whose state is older than the caller's (the session was saved elsewhere meanwhile)", async () => {
    const k = key('e2e-stale');
    const login = await r.post({ url: site.url('/login'), context_key: k, storage_state: { cookies: [], origins: [] }, state_seq: 3 });
    expect(login.body.state_seq).toBe(4); // the login changed it
    // The caller's saved state is newer (9): the warm context (4) is not good enough without it.
    const omitted = await r.post({ url: site.url('/whoami'), context_key: k, state_seq: 9, state_omitted: true });
    expect({ status: omitted.status, kind: omitted.body.kind }).toEqual({ status: 409, kind: 'state_required' });

    const elsewhere = { cookies: [{ name: 'who', value: 'b', domain: '127.0.0.2', path: '/', expires: -1, httpOnly: false, secure: false, sameSite: 'Lax' }], origins: [] };
    const replaced = await r.post({ url: site.url('/whoami'), context_key: k, storage_state: elsewhere, state_seq: 9 });
    expect(replaced.status).toBe(200);
    expect(replaced.body.context_reused).toBe(false);
    expect(replaced.body.html).toContain('<pre id="cookie">who=b</pre>');
    expect(replaced.body.state_seq).toBe(9);

    // Not older: the warm context stays, with or without the state in the request.
    const warm = await r.post({ url: site.url('/whoami'), context_key: k, state_seq: 9, state_omitted: true });
    expect({ status: warm.status, reused: warm.body.context_reused }).toEqual({ status: 200, reused: true });
    const older = await r.post({ url: site.url('/whoami'), context_key: k, storage_state: { cookies: [], origins: [] }, state_seq: 2 });
    expect(older.body.context_reused).toBe(true);
    expect(older.body.html).toContain('<pre id="cookie">who=b</pre>');
    await r.closeContext(k);
  });

  it('refuses state_omitted without context_key or a positive state_seq, or beside storage_state (400)', async () => {
    const bad = [
      { url: site.url('/static'), state_seq: 1, state_omitted: true },
      { url: site.url('/static'), context_key: key('e2e-omitted-bad'), state_omitted: true },
      { url: site.url('/static'), context_key: key('e2e-omitted-bad'), state_seq: 0, state_omitted: true },
      { url: site.url('/static'), context_key: key('e2e-omitted-bad'), state_seq: 1, state_omitted: true, storage_state: { cookies: [], origins: [] } },
    ];
    for (const body of bad) {
      const res = await r.post(body);
      expect({ status: res.status, kind: res.body.kind, error: res.body.error }).toEqual({
        status: 400,
        kind: 'invalid_request',
        error: expect.stringContaining('state_omitted'),
      });
    }
    expect((await r.post({ url: site.url('/static'), state_omitted: 'yes' })).status).toBe(400);
  });

  it('DELETE /contexts/:key is 204 for an unknown context too, and 400 for a malformed key', async () => {
    expect((await r.closeContext(key('never-seen'))).status).toBe(204);
    expect((await r.closeContext('e2e-alice')).status).toBe(400);
  });

  it('numbers the storage-state snapshots of a context on from the restored state, one more per change', async () => {
    const change = { type: 'js', code: "localStorage.setItem('n', String(Math.random()))" };
    const first = await r.post({ url: site.url('/static'), context_key: key('e2e-seq'), state_seq: 41 });
    const second = await r.post({ url: site.url('/static'), context_key: key('e2e-seq'), state_seq: 7, actions: [change] });
    const third = await r.post({ url: site.url('/static'), context_key: key('e2e-seq'), state_seq: 7 });
    // Unchanged: the same number; warm: the input is ignored.
    expect([first.body.state_seq, second.body.state_seq, third.body.state_seq]).toEqual([41, 42, 42]);
    expect(first.body.storage_state).toEqual({ cookies: [], origins: [] });
    // The plain form carries the whole current state every time.
    expect(third.body.storage_state).toEqual(second.body.storage_state);
    expect(third.body.storage_state.origins).toEqual([
      { origin: new URL(site.url('/')).origin, localStorage: [{ name: 'n', value: expect.any(String) }] },
    ]);
    await r.closeContext(key('e2e-seq'));
  });

  it("exports the state of a page showing another site's frame (out of process: the page's CDP session cannot read it)", async () => {
    const url = site.url(`/frame?src=${encodeURIComponent(other.url('/login'))}`);
    const res = await r.post({
      url,
      context_key: key('e2e-oopif'),
      actions: [
        { type: 'js', code: "localStorage.setItem('top', '1')" },
        { type: 'wait_for_js', expr: 'document.querySelector("iframe").contentWindow.length === 0' },
      ],
    });
    expect(res.status).toBe(200); // was a 500: "Frame not found for the given storage id"
    // The frame's own write was refused (Chromium denies third-party frames localStorage), so it has none.
    expect(res.body.storage_state.origins).toEqual([{ origin: new URL(site.url('/')).origin, localStorage: [{ name: 'top', value: '1' }] }]);
    await r.closeContext(key('e2e-oopif'));
  });

  it('answers the parts form when asked: the state only when it changed or is newer than the caller\'s', async () => {
    const parts = async (body: object) => {
      const res = await fetch(`${r.base}/render`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: RENDER_PARTS_TYPE, ...AUTH },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(RENDER_PARTS_TYPE);
      return decodeRenderParts(Buffer.from(await res.arrayBuffer()), res.headers.get(RENDER_PART_LENGTHS_HEADER) ?? undefined);
    };
    const login = await parts({ url: site.url('/login'), context_key: key('e2e-parts') });
    expect(login.meta).toMatchObject({ final_url: site.url('/login'), state_seq: 1, context_reused: false });
    expect(JSON.parse(login.state ?? 'null').cookies).toEqual([expect.objectContaining({ name: 'sid' })]);
    const page = JSON.parse(login.page.toString());
    expect(Object.keys(page)).toEqual([
      'final_url',
      'html',
      'screenshot_b64',
      'screenshot_clipped',
      'mhtml_b64',
      'render_time_ms',
      'actions_executed',
      'action_error',
      'blocked_requests',
    ]);
    expect(page.html).toContain('<h1>Logged in</h1>');

    const unchanged = await parts({ url: site.url('/static'), context_key: key('e2e-parts'), state_seq: 1 });
    expect(unchanged.meta).toMatchObject({ state_seq: 1, context_reused: true });
    expect(unchanged.state).toBeNull();
    // The caller did not keep seq 1 (state_seq 0): offered again though nothing changed.
    const behind = await parts({ url: site.url('/static'), context_key: key('e2e-parts'), state_seq: 0 });
    expect(behind.state).toBe(login.state);
    await r.closeContext(key('e2e-parts'));
  });

  it("freezes a session's tab between renders: its page runs nothing, and the next render's page runs", async () => {
    const first = await r.post({ url: site.url('/ticker'), context_key: key('e2e-frozen') });
    expect(first.status).toBe(200);
    // Frozen right after the render (DESIGN §5: "frozen between renders"); on a loaded machine
    // freezing, and requests sent just before, may take a moment.
    await site.waitForQuiet('/tick');
    const parked = site.hits('/tick');
    await sleep(2000); // 200 ticks if the page ran
    expect(site.hits('/tick') - parked).toBe(0);

    // Woken by the next render of its session: the same tab, whose new page's scripts run.
    const woken = await r.post({ url: site.url('/whoami'), context_key: key('e2e-frozen') });
    expect(woken.status).toBe(200);
    expect(woken.body.context_reused).toBe(true);
    expect(woken.body.html).toContain('<pre id="token">null</pre>');
    await r.closeContext(key('e2e-frozen'));
  });

  it('closes popups a page opens', async () => {
    // In a session, whose context outlives the render: a popup left open would go on ticking.
    const res = await r.post({
      url: site.url('/static'),
      context_key: key('e2e-popup'),
      actions: [
        { type: 'js', code: `window.open('${site.url('/ticker')}'); window.open('${site.url('/ticker')}', '_blank', 'noopener')` },
        { type: 'wait_for_js', expr: 'true' },
      ],
    });
    expect(res.status).toBe(200);
    await sleep(500); // closing is asynchronous: a popup may tick until it is gone
    const before = site.hits('/tick');
    await sleep(1000);
    expect(site.hits('/tick') - before).toBeLessThanOrEqual(2); // a closed popup ticks no more
    await r.closeContext(key('e2e-popup'));
  });

  it('answers 504 promptly when the hard cap hits, and frees the slot', async () => {
    const started = Date.now();
    const { status, body } = await r.post({ url: site.url('/slow?ms=5000'), timeouts: { hard_cap_ms: 1000 } });
    expect(Date.now() - started).toBeLessThan(2500);
    expect(status).toBe(504);
    expect(body.kind).toBe('timeout');
    expect(body.duration_ms).toBeGreaterThanOrEqual(1000);

    await waitFor(async () => (await (await fetch(`${r.base}/healthz`)).json()).running === 0);
  });

  it('honours nav_ms and idle_after_dcl_ms', async () => {
    const nav = await r.post({ url: site.url('/slow?ms=3000'), timeouts: { nav_ms: 300 } });
    expect(nav.status).toBe(504);
    expect(nav.body.kind).toBe('timeout');

    const idle = await r.post({ url: site.url('/static'), timeouts: { idle_after_dcl_ms: 2000 } });
    expect(idle.status).toBe(200);
  });

  it('answers 502 navigation_failed for a target that refuses connections', async () => {
    const port = await closedPort('127.0.0.2');
    const { status, body } = await r.post({ url: `http://127.0.0.2:${port}/` });
    expect(status).toBe(502);
    expect(body.kind).toBe('navigation_failed');
    // Behind the egress proxy the browser sees a closed connection; the proxy says why.
    expect(body.error).toContain(`connect ECONNREFUSED 127.0.0.2:${port}`);
  });

  it.each([
    [{ url: 'ftp://127.0.0.2/' }, 'url'],
    [{ url: 'http://127.0.0.2/', actions: [{ type: 'hover', css: '#a' }] }, 'actions.0.type'],
    [{ url: 'http://127.0.0.2/', unknown_field: true }, 'unknown_field'],
    [{ url: 'http://127.0.0.2/', actions: [null] }, 'actions'],
  ])('answers 400 naming the field for %j', async (body, field) => {
    const res = await r.post(body, { 'x-request-id': 'bad-input' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ kind: 'invalid_request', request_id: 'bad-input' });
    expect(res.body.error).toContain(field);
    expect(typeof res.body.duration_ms).toBe('number');
  });

  it('answers 400 in the same shape for malformed JSON, with a generated request id', async () => {
    const res = await r.post('{"url":');
    expect(res.status).toBe(400);
    expect(res.body.kind).toBe('invalid_request');
    expect(res.body.request_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('x-request-id')).toBe(res.body.request_id);
  });

  it('GET /healthz reports the browser and counters', async () => {
    const res = await fetch(`${r.base}/healthz`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ status: 'ok', browser: 'connected', running: 0, queued: 0 });
    expect(body.contexts).toBe(3); // e2e-alice, e2e-bob and the restored e2e-carol
  });

  it('frees the slot when the client hangs up', async () => {
    const gone = fetch(`${r.base}/render`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...AUTH },
      body: JSON.stringify({ url: site.url('/slow?ms=5000') }),
      signal: AbortSignal.timeout(500),
    });
    await expect(gone).rejects.toThrow();
    await waitFor(async () => (await (await fetch(`${r.base}/healthz`)).json()).running === 0, 1500);
  });

  it('relaunches Chromium after it goes away; sessions then start cold', async () => {
    await r.post({ url: site.url('/login'), context_key: key('e2e-crash') });
    const browsers = r.app.get(BrowserService);
    await (await browsers.getBrowser()).close();
    expect(browsers.connected).toBe(false);
    expect(browsers.contextCount).toBe(0);

    const again = await r.post({ url: site.url('/whoami'), context_key: key('e2e-crash') });
    expect(again.status).toBe(200);
    expect(again.body.context_reused).toBe(false);
    expect(again.body.html).toContain('<pre id="token">null</pre>');
    expect(browsers.connected).toBe(true);
  });
});

describe('headless renderer trusts only the token', () => {
  let r: Renderer;

  beforeAll(async () => {
    r = await startRenderer();
  });

  afterAll(async () => {
    await r?.app.close();
  });

  it.each([
    ['no token', {}],
    ['a wrong token', { authorization: `Bearer ${TOKEN}x` }],
    ['the token in another scheme', { authorization: `Basic ${TOKEN}` }],
  ])('answers 401 to a render with %s', async (_label, headers) => {
    const res = await fetch(`${r.base}/render`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ url: 'http://127.0.0.2/' }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(await res.json()).toMatchObject({ kind: 'unauthorized', error: 'missing or wrong renderer token' });
  });

  it('answers 401 to DELETE /contexts and unknown routes without the token; /healthz is open', async () => {
    expect((await fetch(`${r.base}/contexts/${key('x')}`, { method: 'DELETE' })).status).toBe(401);
    expect((await fetch(`${r.base}/sessions/x`, { method: 'DELETE' })).status).toBe(401);
    expect((await fetch(`${r.base}/healthz`)).status).toBe(200);
  });

  it('refuses to start without a token, or with a short one', async () => {
    const config = loadConfig({ env: {}, overrides: { log_level: 'silent' } });
    await expect(createHeadlessApp(config)).rejects.toThrow(new ConfigError('config error: HEADLESS_TOKEN (headless_token) is required by the renderer'));
    expect(() => loadConfig({ env: { HEADLESS_TOKEN: 'short' } })).toThrow(/HEADLESS_TOKEN \(headless_token\) must be at least 16/);
  });
});

describe('headless renderer limits and failures', () => {
  let site: Site;

  beforeAll(async () => {
    site = await startSite('127.0.0.2');
  });

  afterAll(async () => {
    await site?.close();
  });

  it('answers 503 busy when the running slot and the queue are full', async () => {
    const r = await startRenderer({ headless_max_concurrency: 1, headless_max_queue: 0 });
    try {
      const slow = r.post({ url: site.url('/slow?ms=1000') });
      await waitFor(async () => (await (await fetch(`${r.base}/healthz`)).json()).running === 1);
      const rejected = await r.post({ url: site.url('/static') });
      expect(rejected.status).toBe(503);
      expect(rejected.body.kind).toBe('busy');
      expect((await slow).status).toBe(200);
    } finally {
      await r.app.close();
    }
  });

  it('queues beyond the running limit, up to headless_max_queue', async () => {
    const r = await startRenderer({ headless_max_concurrency: 1, headless_max_queue: 1 });
    try {
      const results = await Promise.all([r.post({ url: site.url('/slow?ms=300') }), r.post({ url: site.url('/static') })]);
      expect(results.map((x) => x.status)).toEqual([200, 200]);
    } finally {
      await r.app.close();
    }
  });

  it('answers 503 browser_unavailable when Chromium cannot be launched', async () => {
    const r = await startRenderer({ chromium_path: '/nonexistent/chromium' });
    try {
      const render = await r.post({ url: site.url('/static') });
      expect(render.status).toBe(503);
      expect(render.body.kind).toBe('browser_unavailable');
      const health = await fetch(`${r.base}/healthz`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ status: 'unavailable', browser: 'disconnected' });
    } finally {
      await r.app.close();
    }
  });

  it('lets an in-flight render finish on shutdown, answering /healthz 503 draining meanwhile', async () => {
    const r = await startRenderer();
    const inflight = r.post({ url: site.url('/slow?ms=1500') });
    await waitFor(async () => (await (await fetch(`${r.base}/healthz`)).json()).running === 1);
    const closing = r.app.close();
    await waitFor(async () => (await fetch(`${r.base}/healthz`)).status === 503, 1000);
    expect(await (await fetch(`${r.base}/healthz`)).json()).toMatchObject({ status: 'draining', running: 1 });
    // A render refused meanwhile retires its connection, so no client keeps a socket to a closing server.
    const refused = await r.post({ url: site.url('/static') });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('connection')).toBe('close');
    expect(refused.body).toMatchObject({ kind: 'shutting_down' });
    expect((await inflight).status).toBe(200);
    await closing;
  });
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
