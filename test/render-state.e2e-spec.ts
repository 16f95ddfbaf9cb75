/**
 * The render path's browser state (issue 10): the renderer exports a session's storage state
 * only when a render changed it (cookies over CDP, localStorage from the page's live frames,
 * Playwright's full storageState() when an origin the render went through is gone), the API
 * stores the state text it is given and passes the renderer's page bytes through to its client
 * with the session fields added. Observed where it lands: the session's stored state.
 */
import { DEFAULT_TENANT } from '../src/auth/tenant.decorator';
import type { StorageState } from '../src/renderer-rpc';
import { BrowserService } from '../src/headless/browser.service';
import { RenderService } from '../src/headless/render.service';
import { RendererPool } from '../src/render/renderer-pool';
import { SessionStore } from '../src/session/session.store';
import { startSite, Site } from './fixtures/site';
import { bootApp, BootedApp } from './support/app';
import { RENDERER_TOKEN, startRenderer, StartedRenderer } from './support/renderer';

jest.setTimeout(60_000);

describe('browser state on the render path (real renderer and Chromium)', () => {
  let site: Site;
  let elsewhere: Site;
  let renderer: StartedRenderer;
  let api: BootedApp;

  const render = (payload: object) => api.inject({ method: 'POST', url: '/v1/render', payload });
  const stored = async (id: string) => {
    const snapshot = await api.app.get(SessionStore).storageState(DEFAULT_TENANT, id);
    return snapshot && { seq: snapshot.seq, json: snapshot.json, state: JSON.parse(snapshot.json) as StorageState };
  };

  beforeAll(async () => {
    site = await startSite('127.0.0.2');
    elsewhere = await startSite('127.0.0.2'); // another port: another origin
    renderer = await startRenderer();
    api = await bootApp({ headless_token: RENDERER_TOKEN, headless_urls: [renderer.url], render_allowed_hosts: ['127.0.0.2'] });
  });

  afterAll(async () => {
    await api?.close();
    await renderer?.app.close();
    await elsewhere?.close();
    await site?.close();
  });

  it('saves cookies set by Set-Cookie and by document.cookie, and localStorage', async () => {
    const res = await render({
      url: site.url('/login'),
      session_id: 'cookies',
      actions: [{ type: 'js', code: "document.cookie = 'js=from-script; path=/'" }],
    });
    expect(res.status).toBe(200);
    expect(res.body.state_saved).toBe(true);
    const cookies = (await api.inject('/v1/sessions/cookies/cookies')).body.cookies;
    expect(cookies).toEqual([
      expect.objectContaining({ name: 'js', value: 'from-script' }),
      expect.objectContaining({ name: 'sid', value: 'abc123' }),
    ]);
    expect((await stored('cookies'))?.state.origins).toEqual([
      { origin: new URL(site.url('/')).origin, localStorage: [{ name: 'token', value: 't-123' }] },
    ]);
  });

  it('does not export a new state when a warm render changes nothing; the next change is numbered on', async () => {
    await render({ url: site.url('/login'), session_id: 'quiet' });
    const before = await stored('quiet');
    expect(before?.seq).toBeGreaterThan(0);

    for (let i = 0; i < 2; i++) {
      const res = await render({ url: site.url('/static'), session_id: 'quiet' });
      expect(res.status).toBe(200);
      expect(res.body.state_saved).toBe(true); // the stored state is current
    }
    expect(await stored('quiet')).toEqual(before);

    await render({ url: site.url('/static'), session_id: 'quiet', actions: [{ type: 'js', code: "localStorage.setItem('more', 'x')" }] });
    const after = await stored('quiet');
    expect(after?.seq).toBe((before?.seq ?? 0) + 1);
    expect(after?.state.origins[0].localStorage).toEqual([
      { name: 'more', value: 'x' },
      { name: 'token', value: 't-123' },
    ]);
  });

  it("sends the saved state only to a renderer whose context for the session is cold (it answers state_required)", async () => {
    await render({ url: site.url('/login'), session_id: 'on-demand' });
    const saved = await stored('on-demand');
    expect(saved?.seq).toBeGreaterThan(0);
    const seen = jest.spyOn(renderer.app.get(RenderService), 'render');
    const stateReads = jest.spyOn(api.app.get(SessionStore), 'storageState');
    try {
      const warm = await render({ url: site.url('/whoami'), session_id: 'on-demand' });
      expect(warm.status).toBe(200);
      expect(warm.body.state_saved).toBe(true);
      expect(seen).toHaveBeenCalledTimes(1);
      expect(seen.mock.calls[0][0]).toEqual(expect.objectContaining({ state_seq: saved?.seq, state_omitted: true }));
      expect(seen.mock.calls[0][0]).not.toHaveProperty('storage_state');
      expect(stateReads).not.toHaveBeenCalled(); // the reservation carried only its seq

      // The renderer forgets the context (idle, evicted, restarted): the state is asked for and restored.
      seen.mockClear();
      stateReads.mockClear();
      const session = await api.app.get(SessionStore).get(DEFAULT_TENANT, 'on-demand');
      renderer.app.get(BrowserService).closeContext(api.app.get(RendererPool).keys.context(session!));
      const cold = await render({ url: site.url('/whoami'), session_id: 'on-demand' });
      expect(cold.status).toBe(200);
      expect(cold.body.html).toContain('<pre id="cookie">sid=abc123</pre>');
      expect(cold.body.html).toContain('<pre id="token">t-123</pre>');
      expect(cold.body.session.state.request_count).toBe(3); // one render, counted once
      // A step of the protocol, not a failed RPC.
      expect((await api.inject('/metrics')).text).not.toMatch(/riptide_renderer_rpc_errors_total\{kind="(state_required|other|invalid_request)"\} [1-9]/);
      expect(seen.mock.calls.map(([request]) => [request.state_omitted ?? false, request.storage_state !== undefined])).toEqual([
        [true, false],
        [false, true],
      ]);
      expect(stateReads).toHaveBeenCalledTimes(1);
    } finally {
      seen.mockRestore();
      stateReads.mockRestore();
    }
  });

  it('saves the localStorage of an origin the page went through by script (full export)', async () => {
    const res = await render({
      url: site.url(`/hop?to=${encodeURIComponent(elsewhere.url('/static'))}`),
      session_id: 'hop',
      wait_for: 'h1',
    });
    expect(res.status).toBe(200);
    expect(res.body.final_url).toBe(elsewhere.url('/static'));
    expect((await stored('hop'))?.state.origins).toEqual([
      { origin: new URL(site.url('/')).origin, localStorage: [{ name: 'hop', value: '1' }] },
    ]);
  });

  it("passes the renderer's page through byte for byte, with the session fields added", async () => {
    const direct = await fetch(`${renderer.url}/render`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${RENDERER_TOKEN}` },
      body: JSON.stringify({ url: site.url('/unicode') }),
    }).then((r) => r.json() as Promise<{ html: string }>);
    expect(direct.html).toContain('h\u00e9llo "w\u00f6rld" \u{1F600} {}} \\ \u2028');

    const res = await render({ url: site.url('/unicode'), session_id: 'bytes', artifacts: { screenshot: true } });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(Object.keys(res.body)).toEqual([
      'final_url',
      'html',
      'screenshot_b64',
      'screenshot_clipped',
      'mhtml_b64',
      'render_time_ms',
      'actions_executed',
      'action_error',
      'blocked_requests',
      'session',
      'state_saved',
    ]);
    expect(res.body.html).toBe(direct.html);
    expect(res.text).toContain(JSON.stringify(direct.html));
    expect(Buffer.from(res.body.screenshot_b64, 'base64').subarray(1, 4).toString()).toBe('PNG');
    expect(res.body.session).toMatchObject({ session_id: 'bytes', state: { request_count: 1, last_url: site.url('/unicode') } });

    const sessionless = await render({ url: site.url('/unicode') });
    expect(sessionless.body.html).toBe(direct.html);
    expect(sessionless.body).not.toHaveProperty('session');
    expect(sessionless.body).not.toHaveProperty('state_saved');
  });
});
