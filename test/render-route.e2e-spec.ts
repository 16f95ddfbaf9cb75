import { startSite, Site } from './fixtures/site';
import { bootApp, BootedApp, InjectRequest } from './support/app';
import { expectSameAnswer, withNestPipeline } from './support/nest-pipeline';
import { RENDERER_TOKEN, StartedRenderer, startRenderer } from './support/renderer';
import { captureLogLines } from './support/request-log';

/**
 * POST /v1/render is served without Nest's per-request pipeline (src/render/render.route.ts).
 * A client must not be able to tell: this boots the app as main.ts does and once with Nest's
 * own handler put back on that route, against one renderer, sends both the same requests and
 * compares what is observable: status, headers, body, the request log line, the session's
 * count; and the guards' bookkeeping (tenant slots, session requests) on every path.
 */

jest.setTimeout(60_000);

const KEY = 'key-render-route-0001';
const auth = { authorization: `Bearer ${KEY}` };

interface Booted {
  t: BootedApp;
  logLines(): Record<string, unknown>[];
}

describe('POST /v1/render outside Nest pipeline', () => {
  let site: Site;
  let renderer: StartedRenderer;
  let direct: Booted;
  let nest: Booted;

  const boot = async (setup?: typeof withNestPipeline): Promise<Booted> => {
    const t = await bootApp(
      {
        api_keys: [`${KEY}:alpha`],
        log_level: 'info',
        headless_urls: [renderer.url],
        headless_token: RENDERER_TOKEN,
        render_allowed_hosts: ['127.0.0.2'],
        render_max_concurrent_per_tenant: 1,
      },
      { setup },
    );
    return { t, logLines: captureLogLines(t.config) };
  };
  const render = (n: number, payload: InjectRequest['payload'], headers: Record<string, string> = auth): InjectRequest => ({
    method: 'POST',
    url: '/v1/render',
    headers: { ...headers, 'x-request-id': `render-route-${n}`, ...(typeof payload === 'string' ? { 'content-type': 'application/json' } : {}) },
    payload,
  });
  const both = async (request: InjectRequest) => [await direct.t.inject(request), await nest.t.inject(request)];
  const sessionOf = async (b: Booted, id: string) => (await b.t.inject({ url: `/v1/sessions/${id}`, headers: auth })).body;

  beforeAll(async () => {
    site = await startSite('127.0.0.2');
    renderer = await startRenderer();
    await fetch(`${renderer.url}/healthz`); // launches Chromium, whose log line is no request's
    direct = await boot();
    nest = await boot(withNestPipeline);
    for (const b of [direct, nest]) {
      const created = await b.t.inject({ method: 'POST', url: '/v1/sessions', headers: auth, payload: { session_id: 'route-limited', max_requests: 1 } });
      expect(created.status).toBe(201);
      b.logLines();
    }
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await direct?.t.close();
    await nest?.t.close();
    await renderer?.app.close();
    await site?.close();
  });

  it('is the route main.ts serves (the direct handler is in place)', () => {
    const handlerOf = (b: Booted) => b.t.app.getHttpAdapter().getInstance().findRoute({ method: 'POST', url: '/v1/render' })?.handler;
    expect(handlerOf(direct)).toBeDefined();
    expect(handlerOf(direct)).not.toBe(handlerOf(nest));
  });

  it.each<[string, () => InjectRequest]>([
    ['no key: 401', () => render(1, { url: site.url('/static') }, {})],
    ['an unknown key: 401', () => render(2, { url: site.url('/static') }, { 'x-api-key': 'not-a-key' })],
    ['no key and an invalid body: 401 first', () => render(3, { bogus: 1 }, {})],
    ['an unknown field: 400 naming it', () => render(4, { url: site.url('/static'), bogus: 1 })],
    ['a url that is not a string: 400', () => render(5, { url: 42 })],
    ['no body fields: 400', () => render(6, {})],
    ['a bad session id: 400', () => render(7, { url: site.url('/static'), session_id: 'bad id!' })],
    ['a bad nested option: 400', () => render(8, { url: site.url('/static'), timeouts: { hard_cap_ms: -5 } })],
    ['an unknown action: 400', () => render(9, { url: site.url('/static'), actions: [{ type: 'hover', css: 'a' }] })],
    ['malformed JSON: 400', () => render(10, '{"url":')],
    ['a refused URL: 422, no session request used', () => render(11, { url: 'file:///etc/passwd', session_id: 'route-refused' })],
    ['a malformed URL: 400, no session request used', () => render(12, { url: 'not a url', session_id: 'route-refused' })],
  ])('%s: same status, headers, body and log line', async (_, request) => {
    const [a, b] = await both(request());
    expect(a.status).toBeGreaterThanOrEqual(400);
    expectSameAnswer(a, b, direct.logLines, nest.logLines);
  });

  it('a refused or invalid render creates no session on either path', async () => {
    for (const b of [direct, nest]) expect((await b.t.inject({ url: '/v1/sessions/route-refused', headers: auth })).status).toBe(404);
  });

  it('a session render answers alike, then the limited session is 429 with its rate headers', async () => {
    const withoutTimes = (r: Awaited<ReturnType<typeof both>>[number]) => {
      const { render_time_ms, session, ...rest } = r.body;
      return { status: r.status, rest, count: session?.state.request_count, remaining: session?.remaining_requests };
    };
    const stableHeaders = (r: Awaited<ReturnType<typeof both>>[number]) => ({ ...r.headers, date: '(now)', 'content-length': '(varies)' });
    for (const b of [direct, nest]) b.logLines();
    const [a, b] = await both(render(20, { url: site.url('/static'), session_id: 'route-limited' }));
    expect(withoutTimes(a)).toEqual(withoutTimes(b));
    expect(withoutTimes(a)).toMatchObject({ status: 200, count: 1, remaining: 0 });
    expect(a.body.html).toContain('<h1>static</h1>');
    expect(stableHeaders(a)).toEqual(stableHeaders(b));
    expect(a.headers).toMatchObject({ 'content-type': 'application/json', 'ratelimit-limit': '1', 'ratelimit-remaining': '0' });
    expect(direct.logLines()).toEqual(nest.logLines());

    const [c, d] = await both(render(21, { url: site.url('/static'), session_id: 'route-limited' }));
    expect(c.status).toBe(429);
    expect(c.body.message).toContain('1/1');
    expectSameAnswer(c, d, direct.logLines, nest.logLines);
    for (const booted of [direct, nest]) expect((await sessionOf(booted, 'route-limited')).state.request_count).toBe(1);
  });

  it("holds the tenant's slot while a render runs and gives it back when it ends, on both paths", async () => {
    for (const b of [direct, nest]) {
      const hits = site.hits('/slow');
      const running = b.t.inject(render(30, { url: site.url('/slow?ms=1500'), session_id: 'route-slot' }));
      await site.waitForHits('/slow', hits + 1);
      const refused = await b.t.inject(render(31, { url: site.url('/static'), session_id: 'route-slot' }));
      expect(refused.status).toBe(429);
      expect(refused.headers['retry-after']).toBe('1');
      expect(refused.body.message).toBe('tenant render concurrency limit reached (1/1)');
      expect((await running).status).toBe(200);
      expect((await b.t.inject(render(32, { url: site.url('/static'), session_id: 'route-slot' }))).status).toBe(200);
      // The refused render used up no session request.
      expect((await sessionOf(b, 'route-slot')).state.request_count).toBe(2);
    }
  });

  it("gives the tenant's slot back when the client goes away mid-render, on both paths", async () => {
    for (const b of [direct, nest]) {
      await b.t.app.listen(0, '127.0.0.1');
      const base = await b.t.app.getUrl();
      const hits = site.hits('/slow');
      const aborted = new AbortController();
      const gone = fetch(`${base}/v1/render`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ url: site.url('/slow?ms=4000') }),
        signal: aborted.signal,
      }).catch((err: Error) => err.name);
      await site.waitForHits('/slow', hits + 1);
      aborted.abort();
      expect(await gone).toBe('AbortError');
      // The socket's close reaches the server within moments; the render itself still runs on.
      let status = 429;
      for (let i = 0; i < 50 && status === 429; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        status = (await b.t.inject(render(40, { url: site.url('/static') }))).status;
      }
      expect(status).toBe(200);
    }
  });
});
