import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { bootApp, BootedApp, ConfigOverrides, FakeClock, InjectRequest } from './support/app';
import { expectSameAnswer, withNestPipeline } from './support/nest-pipeline';
import { closedPort } from './support/ports';
import { captureLogLines } from './support/request-log';

/**
 * GET /v1/sessions/:id is served without Nest's per-request pipeline
 * (src/session/session-read.route.ts). A client must not be able to tell: this boots the app
 * twice, once as main.ts does and once with Nest's own handler put back on that route, sends
 * both the same requests and compares everything observable: status, headers, body bytes, the
 * request log lines and the backend metrics.
 */

jest.setTimeout(30_000);

const T0 = Date.UTC(2026, 2, 1, 12, 0, 0);
const KEY = 'key-read-route-0001';
const OTHER_KEY = 'key-read-route-0002';
const ID = 'rpc_read_route_1';
const OTHERS = 'rpc_read_route_other';

interface Booted {
  t: BootedApp;
  /** Request log lines written since the last call, without what differs between runs. */
  logLines(): Record<string, unknown>[];
}

async function boot(setup?: (app: NestFastifyApplication) => void): Promise<Booted> {
  const overrides: ConfigOverrides = {
    api_keys: [`${KEY}:alpha`, `${OTHER_KEY}:beta`],
    log_level: 'info',
    // No embedded renderer: nothing here renders.
    headless_urls: [`http://127.0.0.1:${await closedPort()}`],
    headless_token: 'read-route-token',
  };
  const t = await bootApp(overrides, { clock: new FakeClock(T0), setup });
  return { t, logLines: captureLogLines(t.config) };
}

const auth = (key = KEY) => ({ authorization: `Bearer ${key}` });
const withId = (n: number, headers: Record<string, string> = {}) => ({ ...headers, 'x-request-id': `read-route-${n}` });

const REQUESTS: InjectRequest[] = [
  { url: `/v1/sessions/${ID}`, headers: withId(1, auth()) },
  { url: `/v1/sessions/${ID}`, headers: withId(2, { 'x-api-key': KEY }) },
  { method: 'HEAD', url: `/v1/sessions/${ID}`, headers: withId(3, auth()) },
  { url: `/v1/sessions/${ID}?token=${KEY}`, headers: withId(4) }, // not a route that takes ?token=
  { url: `/v1/sessions/${ID}`, headers: withId(5) },
  { url: `/v1/sessions/${ID}`, headers: withId(6, auth('not-a-key')) },
  { url: `/v1/sessions/${ID}`, headers: withId(7, { authorization: 'Basic Zm9vOmJhcg==' }) },
  { url: `/v1/sessions/${OTHERS}`, headers: withId(8, auth()) }, // another tenant's: 404
  { url: '/v1/sessions/rpc_read_route_unknown', headers: withId(9, auth()) },
  { url: '/v1/sessions/bad%20id!', headers: withId(10, auth()) },
  { url: `/v1/sessions/${'a'.repeat(129)}`, headers: withId(11, auth()) },
  { url: `/v1/sessions/${'a'.repeat(128)}`, headers: withId(12) }, // no key and a 404 id: 401 first
  { url: `/v1/sessions/${ID}`, headers: auth() }, // a minted request id: compared by shape
];

describe('GET /v1/sessions/:id outside Nest pipeline', () => {
  let direct: Booted;
  let nest: Booted;

  beforeAll(async () => {
    direct = await boot();
    nest = await boot(withNestPipeline);
    for (const { t } of [direct, nest]) {
      for (const [id, key] of [
        [ID, KEY],
        [OTHERS, OTHER_KEY],
      ]) {
        const created = await t.inject({
          method: 'POST',
          url: '/v1/sessions',
          headers: auth(key),
          payload: { session_id: id, ttl_seconds: 600, max_requests: 5, metadata: { k: 'v"\u00e9' } },
        });
        expect(created.status).toBe(201);
      }
    }
    direct.logLines();
    nest.logLines();
  });
  afterAll(async () => {
    jest.restoreAllMocks();
    await direct?.t.close();
    await nest?.t.close();
  });

  it('is the route main.ts serves (the direct handler is in place)', () => {
    const handlerOf = (b: Booted) => b.t.app.getHttpAdapter().getInstance().findRoute({ method: 'GET', url: '/v1/sessions/:id' })?.handler;
    expect(handlerOf(direct)).toBeDefined();
    expect(handlerOf(direct)).not.toBe(handlerOf(nest));
  });

  it.each(REQUESTS.map((r) => [`${r.method ?? 'GET'} ${r.url.slice(0, 60)} ${JSON.stringify(r.headers)}`, r]))(
    '%s: same status, headers, body and log line',
    async (_, request) => {
      const [a, b] = [await direct.t.inject(request), await nest.t.inject(request)];
      const minted = (r: typeof a) => ({ ...r.headers, 'x-request-id': '(minted)', date: '(now)' });
      if (request.headers?.['x-request-id'] === undefined) {
        expect(a.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
        expect({ ...a.body, request_id: undefined }).toEqual({ ...b.body, request_id: undefined });
        expect(minted(a)).toEqual(minted(b));
      } else {
        expectSameAnswer(a, b, direct.logLines, nest.logLines);
      }
    },
  );

  it('a GET does not touch or count: both apps still hold the session as created', async () => {
    for (const { t } of [direct, nest]) {
      const res = await t.inject({ url: `/v1/sessions/${ID}`, headers: auth() });
      expect(res.body).toMatchObject({ last_accessed: new Date(T0).toISOString(), state: { request_count: 0 }, remaining_requests: 5 });
    }
  });

  it('records the same backend operations in /metrics', async () => {
    const ops = async (t: BootedApp) =>
      (await t.inject({ url: '/metrics', headers: auth() })).text
        .split('\n')
        .filter((line) => /^riptide_session_backend_(operation_duration_seconds_count|errors_total)\{/.test(line))
        .sort();
    const [a, b] = [await ops(direct.t), await ops(nest.t)];
    expect(a.some((line) => line.includes('operation="get"') && !line.endsWith(' 0'))).toBe(true);
    expect(a).toEqual(b);
  });

  it('is listed in the OpenAPI document as before', async () => {
    const [a, b] = [await direct.t.inject('/docs-json'), await nest.t.inject('/docs-json')];
    expect(a.body.paths['/v1/sessions/{id}'].get).toBeDefined();
    expect(a.text).toBe(b.text);
  });
});
