/**
 * API keys, tenants and security headers (DESIGN §5) end to end over Fastify inject: the
 * whole API booted with two tenants' keys, plus a small app wiring the real AuthModule to
 * stand-in health/metrics controllers (the guard's allow-list, whatever those modules do).
 * One real renderer; renders go to a closed port on the allow-listed 127.0.0.2, so they run
 * and fail fast (502) after their session request was reserved: all the tenant checks need.
 */
import { Controller, Get, Module } from '@nestjs/common';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { STATUS_CODES } from 'node:http';
import { AuthModule } from '../src/auth/auth.module';
import { Public } from '../src/auth/public.decorator';
import { Tenant } from '../src/auth/tenant.decorator';
import { HttpExceptionFilter } from '../src/common/http-exception.filter';
import { loadConfig } from '../src/config/app-config';
import { ConfigModule } from '../src/config/config.module';
import { bootApp, BootedApp, ConfigOverrides, Inject, InjectResponse } from './support/app';
import { deadSiteUrl } from './support/ports';
import { RENDERER_TOKEN, startRenderer, StartedRenderer } from './support/renderer';

jest.setTimeout(30_000);

const ALPHA = 'key-alpha-0001';
const BETA = 'key-beta-0002';
const KEYS = [`${ALPHA}:alpha`, `${BETA}:beta`];
const BASE: ConfigOverrides = {
  api_keys: KEYS,
  headless_token: RENDERER_TOKEN,
  render_allowed_hosts: ['127.0.0.2'],
};
/** A page nothing serves: its render runs in Chromium and fails with 502. */
let DEAD_URL = 'http://127.0.0.2/';
let renderer: StartedRenderer;

beforeAll(async () => {
  renderer = await startRenderer();
  BASE.headless_urls = [renderer.url];
  DEAD_URL = await deadSiteUrl();
});
afterAll(async () => {
  await renderer?.app.close();
});

type Headers = Record<string, string>;
const bearer = (key: string): Headers => ({ authorization: `Bearer ${key}` });
const xApiKey = (key: string): Headers => ({ 'x-api-key': key });
const A = bearer(ALPHA);
const B = xApiKey(BETA);

interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  request_id: string;
}

function expectError(res: InjectResponse<unknown>, status: number, message?: string | RegExp): ErrorBody {
  expect(res.status).toBe(status);
  const body = res.body as ErrorBody;
  expect(Object.keys(body ?? {}).sort()).toEqual(['error', 'message', 'request_id', 'statusCode']);
  expect(body.statusCode).toBe(status);
  expect(body.error).toBe(STATUS_CODES[status]);
  expect(body.request_id).toEqual(expect.any(String));
  expect(res.headers['x-request-id']).toBe(body.request_id);
  if (message !== undefined) expect(body.message).toMatch(message);
  return body;
}

function expect401(res: InjectResponse<unknown>, kind: 'missing' | 'invalid'): void {
  const body = expectError(res, 401, kind === 'missing' ? /missing API key/ : /^invalid API key$/);
  expect(res.headers['www-authenticate']).toBe(
    kind === 'missing' ? 'Bearer realm="riptide-api"' : 'Bearer realm="riptide-api", error="invalid_token"',
  );
  expect(res.text).not.toContain(ALPHA);
  expect(body.message).not.toContain('wrong');
}

let t: BootedApp;
const boot = async (overrides: ConfigOverrides = {}): Promise<void> => {
  await t?.close();
  t = await bootApp({ ...BASE, ...overrides });
};
afterEach(async () => {
  await t?.close();
  t = undefined as unknown as BootedApp;
});

const as =
  (headers: Headers) =>
  <T = any>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
    t.inject<T>({ method, url, headers, payload });

// ---- authentication -------------------------------------------------------------------------

describe('API keys', () => {
  beforeEach(() => boot());

  // Every row has three entries: a shorter row would make Jest pass `done` as the payload.
  const protectedRoutes: Array<[string, string, object | undefined]> = [
    ['GET', '/v1/sessions', undefined],
    ['POST', '/v1/sessions', {}],
    ['PUT', '/v1/sessions/s1', {}],
    ['GET', '/v1/sessions/s1', undefined],
    ['PATCH', '/v1/sessions/s1', { metadata: { a: '1' } }],
    ['POST', '/v1/sessions/s1/touch', undefined],
    ['DELETE', '/v1/sessions/s1', undefined],
    ['GET', '/v1/sessions/s1/cookies', undefined],
    ['GET', '/v1/sessions/metrics', undefined],
    ['POST', '/v1/sessions/cleanup', undefined],
    ['POST', '/v1/render', { url: 'http://127.0.0.2/', session_id: 's1' }],
  ];

  it.each(protectedRoutes)('%s %s without a key is 401 in the error shape, with WWW-Authenticate', async (method, url, payload) => {
    expect401(await t.inject({ method: method as 'GET', url, payload }), 'missing');
  });

  it.each([
    ['Authorization: Bearer', bearer('wrong-key-0001')],
    ['X-API-Key', xApiKey('wrong-key-0001')],
    ['Bearer with an empty token', { authorization: 'Bearer ' }],
    ['Bearer with two tokens', { authorization: `Bearer ${ALPHA} ${ALPHA}` }],
    ['a prefix of a real key', bearer(ALPHA.slice(0, -1))],
    ['a real key with a suffix', xApiKey(`${ALPHA}0`)],
    ['the "key:tenant" pair', bearer(`${ALPHA}:alpha`)],
  ])('a wrong key (%s) is 401 invalid_token', async (_label, headers) => {
    expect401(await t.inject({ url: '/v1/sessions', headers }), 'invalid');
  });

  it('accepts both header forms, each resolving to the key\'s tenant', async () => {
    for (const headers of [bearer(ALPHA), xApiKey(ALPHA), { authorization: `bearer ${ALPHA}` }, { authorization: `Bearer  ${ALPHA} ` }]) {
      const res = await t.inject({ url: '/v1/sessions', headers });
      expect(res.status).toBe(200);
    }
    const created = await as(bearer(ALPHA))('POST', '/v1/sessions', { session_id: 'mine' });
    expect(created.status).toBe(201);
    expect((await as(xApiKey(ALPHA))('GET', '/v1/sessions/mine')).status).toBe(200);
    expect((await as(xApiKey(BETA))('GET', '/v1/sessions/mine')).status).toBe(404);
  });

  it('ignores a non-Bearer Authorization scheme and falls back to X-API-Key', async () => {
    expect((await t.inject({ url: '/v1/sessions', headers: { authorization: 'Basic Zm9vOmJhcg==', ...xApiKey(BETA) } })).status).toBe(200);
    expect401(await t.inject({ url: '/v1/sessions', headers: { authorization: 'Basic Zm9vOmJhcg==' } }), 'missing');
  });

  it('uses the Bearer key when both headers are sent (a bad Bearer is not rescued by X-API-Key)', async () => {
    expect401(await t.inject({ url: '/v1/sessions', headers: { ...bearer('wrong-key-0001'), ...xApiKey(ALPHA) } }), 'invalid');
    expect((await t.inject({ url: '/v1/sessions', headers: { ...bearer(ALPHA), ...xApiKey('wrong-key-0001') } })).status).toBe(200);
  });

  it('a refused request has no effect: no session created, no request reserved', async () => {
    expect401(await t.inject({ method: 'POST', url: '/v1/sessions', payload: { session_id: 'x1' }, headers: bearer('nope-nope-nope') }), 'invalid');
    expect401(await t.inject({ method: 'POST', url: '/v1/render', payload: { url: 'http://127.0.0.2/', session_id: 'x2' } }), 'missing');
    for (const headers of [A, B]) {
      expect((await t.inject({ url: '/v1/sessions', headers })).body.items).toEqual([]);
    }
  });

  it('keeps the caller\'s request id on a 401', async () => {
    const res = await t.inject({ url: '/v1/sessions', headers: { 'x-request-id': 'trace-401' } });
    expect(expectError(res, 401).request_id).toBe('trace-401');
  });

  it('an unknown path is a 404 with or without a key (no route, nothing to protect)', async () => {
    expectError(await t.inject({ url: '/v1/nope' }), 404);
    expectError(await t.inject({ url: '/v1/nope', headers: A }), 404);
  });

  it('leaves /docs and /docs-json open (the OpenAPI document has no data; Swagger UI needs it)', async () => {
    expect((await t.inject('/docs')).status).toBe(200);
    const doc = await t.inject<{ components: { securitySchemes: Record<string, unknown> } }>('/docs-json');
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.components.securitySchemes).sort()).toEqual(['api-key', 'bearer']);
  });
});

// ---- tenant isolation -----------------------------------------------------------------------

describe('tenant isolation', () => {
  beforeEach(() => boot());
  const alpha = as(A);
  const beta = as(B);

  it("another tenant's session is indistinguishable from a missing one on every route", async () => {
    const original = (await alpha('POST', '/v1/sessions', { session_id: 'private', ttl_seconds: 60, metadata: { owner: 'alpha' } })).body;
    const attempts: Array<[string, string, object?]> = [
      ['GET', '/v1/sessions/private'],
      ['PATCH', '/v1/sessions/private', { metadata: { owner: 'beta' }, ttl_seconds: 5 }],
      ['POST', '/v1/sessions/private/touch'],
      ['GET', '/v1/sessions/private/cookies'],
      ['DELETE', '/v1/sessions/private'],
    ];
    for (const [method, url, payload] of attempts) {
      const theirs = await beta(method as 'GET', url, payload);
      const missing = await beta(method as 'GET', url.replace('private', 'nothere'), payload);
      expectError(theirs, 404, "session 'private' not found");
      expectError(missing, 404, "session 'nothere' not found");
      expect(theirs.headers['content-length']).toBe(missing.headers['content-length']);
    }
    // Nothing beta did reached alpha's session.
    expect((await alpha('GET', '/v1/sessions/private')).body).toEqual(original);
  });

  it('lists only the caller\'s sessions', async () => {
    for (const id of ['a1', 'a2', 'both']) expect((await alpha('POST', '/v1/sessions', { session_id: id })).status).toBe(201);
    for (const id of ['b1', 'both']) expect((await beta('POST', '/v1/sessions', { session_id: id })).status).toBe(201);
    const ids = async (call: ReturnType<typeof as>) =>
      ((await call('GET', '/v1/sessions')).body.items as Array<{ session_id: string }>).map((s) => s.session_id);
    expect(await ids(alpha)).toEqual(['a1', 'a2', 'both']);
    expect(await ids(beta)).toEqual(['b1', 'both']);
  });

  it("the same id is a separate session per tenant: create and PUT never see the other's (no 409 leak)", async () => {
    const a = (await alpha('POST', '/v1/sessions', { session_id: 'same', metadata: { who: 'alpha' } })).body;
    const created = await beta('POST', '/v1/sessions', { session_id: 'same', metadata: { who: 'beta' } });
    expect(created.status).toBe(201);
    expect(created.body.state.metadata).toEqual({ who: 'beta' });
    expect((await beta('PUT', '/v1/sessions/fresh', {})).status).toBe(201);
    expect((await alpha('PUT', '/v1/sessions/same', {})).status).toBe(200);
    expect((await alpha('GET', '/v1/sessions/same')).body).toEqual(a);
    expect((await beta('DELETE', '/v1/sessions/same')).status).toBe(204);
    expect((await alpha('GET', '/v1/sessions/same')).body).toEqual(a);
    expect((await alpha('GET', '/v1/sessions/fresh')).status).toBe(404);
  });

  it("a render with B's key on A's session id uses B's own session, not A's (nor A's request limit)", async () => {
    await alpha('POST', '/v1/sessions', { session_id: 'shop', max_requests: 1 });
    const render = { url: DEAD_URL, session_id: 'shop' };
    // The page is not there: 502, but the session request was reserved and is recorded.
    expect((await alpha('POST', '/v1/render', render)).status).toBe(502);
    expectError(await alpha('POST', '/v1/render', render), 429, '1/1');

    const res = await beta('POST', '/v1/render', render);
    expect(res.status).toBe(502);
    expect(res.headers['ratelimit-limit']).toBeUndefined(); // B's session has no limit
    const b = (await beta('GET', '/v1/sessions/shop')).body;
    expect(b.config.max_requests).toBe(0);
    expect(b.state).toMatchObject({ request_count: 1, error_count: 1 });
    const a = (await alpha('GET', '/v1/sessions/shop')).body;
    expect(a.config.max_requests).toBe(1);
    expect(a.state).toMatchObject({ request_count: 1, error_count: 1 });
  });

  it('SESSION_MAX_PER_TENANT counts per tenant (create, PUT and render-created sessions)', async () => {
    await boot({ session_max_per_tenant: 2 });
    expect((await alpha('POST', '/v1/sessions', {})).status).toBe(201);
    expect((await alpha('PUT', '/v1/sessions/a2', {})).status).toBe(201);
    expectError(await alpha('POST', '/v1/sessions', {}), 429, '2/2');
    expectError(await alpha('PUT', '/v1/sessions/a3', {}), 429, '2/2');
    expectError(await alpha('POST', '/v1/render', { url: 'http://127.0.0.2/', session_id: 'a4' }), 429, '2/2');
    // Alpha at its quota leaves beta's untouched.
    expect((await beta('POST', '/v1/sessions', {})).status).toBe(201);
    expect((await beta('POST', '/v1/render', { url: DEAD_URL, session_id: 'b2' })).status).toBe(502);
    expectError(await beta('POST', '/v1/sessions', {}), 429, '2/2');
    // Freeing one of alpha's makes room for alpha only.
    expect((await alpha('DELETE', '/v1/sessions/a2')).status).toBe(204);
    expect((await alpha('POST', '/v1/sessions', {})).status).toBe(201);
    expectError(await beta('PUT', '/v1/sessions/b3', {}), 429, '2/2');
  });
});

// ---- open routes ----------------------------------------------------------------------------

/** Stand-ins for the health and metrics controllers, to pin the guard's allow-list. */
@Controller('health')
class StandInHealthController {
  @Get('live') live(@Tenant() tenant: string) {
    return { status: 'ok', tenant };
  }
  @Get('ready') ready() {
    return { status: 'ok' };
  }
}
@Controller('metrics')
@Public() // marked public on purpose: METRICS_REQUIRE_KEY must still win
class StandInMetricsController {
  @Get() metrics() {
    return 'riptide_up 1\n';
  }
}
@Controller('v1/stand-in')
class StandInApiController {
  @Get('open') @Public() open(@Tenant() tenant: string) {
    return { tenant };
  }
  @Get('closed') closed(@Tenant() tenant: string) {
    return { tenant };
  }
}
@Module({ controllers: [StandInHealthController, StandInMetricsController, StandInApiController] })
class StandInModule {}

async function standInApp(overrides: ConfigOverrides): Promise<{ inject: Inject; close: () => Promise<void> }> {
  const config = loadConfig({ overrides: { log_level: 'silent', ...overrides } });
  const moduleRef = await Test.createTestingModule({ imports: [ConfigModule.forRoot(config), AuthModule, StandInModule] }).compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
  app.useGlobalFilters(new HttpExceptionFilter());
  app.getHttpAdapter().getInstance().addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  const inject: Inject = async (request) => {
    const req = typeof request === 'string' ? { url: request } : request;
    const raw = await app.inject({ method: req.method ?? 'GET', url: req.url, headers: req.headers });
    const json = String(raw.headers['content-type'] ?? '').includes('json');
    return { status: raw.statusCode, headers: raw.headers, body: json ? JSON.parse(raw.body) : undefined, text: raw.body, raw };
  };
  return { inject, close: () => app.close() };
}

describe('open routes (guard allow-list, on stand-in controllers)', () => {
  it('/health/* is open without a key; /metrics open by default; @Public routes open; the rest closed', async () => {
    const s = await standInApp({ api_keys: KEYS });
    try {
      const live = await s.inject('/health/live');
      expect(live.status).toBe(200);
      expect(live.body.tenant).toBe('default');
      expect((await s.inject('/health/ready?verbose=1')).status).toBe(200);
      expect((await s.inject('/metrics')).status).toBe(200);
      expect((await s.inject('/v1/stand-in/open')).body).toEqual({ tenant: 'default' });
      expect401(await s.inject('/v1/stand-in/closed'), 'missing');
      expect((await s.inject({ url: '/v1/stand-in/closed', headers: B })).body).toEqual({ tenant: 'beta' });
      // A path that merely contains the allow-listed words is not open.
      expect401(await s.inject('/v1/stand-in/closed?x=/health/live'), 'missing');
    } finally {
      await s.close();
    }
  });

  it('METRICS_REQUIRE_KEY=true protects /metrics even when its controller is @Public(); health stays open', async () => {
    const s = await standInApp({ api_keys: KEYS, metrics_require_key: 'true' });
    try {
      expect401(await s.inject('/metrics'), 'missing');
      expect401(await s.inject({ url: '/metrics', headers: bearer('wrong-key-0001') }), 'invalid');
      expect((await s.inject({ url: '/metrics', headers: A })).status).toBe(200);
      expect((await s.inject('/health/live')).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it('with no keys configured everything is open and the tenant is "default", METRICS_REQUIRE_KEY or not', async () => {
    const s = await standInApp({ api_keys: [], metrics_require_key: 'true' });
    try {
      expect((await s.inject('/v1/stand-in/closed')).body).toEqual({ tenant: 'default' });
      expect((await s.inject({ url: '/v1/stand-in/closed', headers: bearer('whatever-key') })).body).toEqual({ tenant: 'default' });
      expect((await s.inject('/metrics')).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});

describe('open routes on the real app (when the health/metrics modules are present)', () => {
  const has = (url: string): boolean => t.app.getHttpAdapter().getInstance().hasRoute({ method: 'GET', url });

  it('/health/live and /health/ready answer without a key (never 401)', async () => {
    await boot();
    for (const url of ['/health/live', '/health/ready']) {
      if (!has(url)) continue;
      expect((await t.inject(url)).status).not.toBe(401);
    }
  });

  it('/metrics is open by default and needs a key with METRICS_REQUIRE_KEY=true', async () => {
    await boot();
    if (!has('/metrics')) return;
    expect((await t.inject('/metrics')).status).toBe(200);
    await boot({ metrics_require_key: true });
    expect401(await t.inject('/metrics'), 'missing');
    expect((await t.inject({ url: '/metrics', headers: A })).status).toBe(200);
  });
});

// ---- security headers -----------------------------------------------------------------------

const CSP = "default-src 'none'; frame-ancestors 'none'";

function expectSecurityHeaders(res: InjectResponse<unknown>, opts: { csp: boolean; noStore: boolean }): void {
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['x-frame-options']).toBe('DENY');
  expect(res.headers['referrer-policy']).toBe('no-referrer');
  if (opts.csp) expect(res.headers['content-security-policy']).toBe(CSP);
  else expect(res.headers['content-security-policy']).toBeUndefined();
  if (opts.noStore) expect(res.headers['cache-control']).toBe('no-store');
  else expect(res.headers['cache-control']).not.toBe('no-store');
}

describe('security headers', () => {
  beforeEach(() => boot());
  const api = { csp: true, noStore: true };

  it('are on 2xx answers', async () => {
    const created = await as(A)('POST', '/v1/sessions', { session_id: 'h1' });
    expect(created.status).toBe(201);
    expectSecurityHeaders(created, api);
    expectSecurityHeaders(await as(A)('GET', '/v1/sessions/h1'), api);
    const deleted = await as(A)('DELETE', '/v1/sessions/h1');
    expect(deleted.status).toBe(204);
    expectSecurityHeaders(deleted, api);
  });

  it('are on 4xx answers: 401, 400, 404 session, 404 route, 413, and a malformed path', async () => {
    expectSecurityHeaders(await t.inject('/v1/sessions'), api); // 401
    const invalid = await as(A)('POST', '/v1/sessions', { ttl_seconds: -1 });
    expect(invalid.status).toBe(400);
    expectSecurityHeaders(invalid, api);
    const missing = await as(A)('GET', '/v1/sessions/nothere');
    expect(missing.status).toBe(404);
    expectSecurityHeaders(missing, api);
    const noRoute = await t.inject('/nothing/here');
    expect(noRoute.status).toBe(404);
    expectSecurityHeaders(noRoute, { csp: true, noStore: false });
    const tooBig = await t.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: { ...A, 'content-type': 'application/json' },
      payload: JSON.stringify({ metadata: { k: 'x'.repeat(2 * 1024 * 1024) } }),
    });
    expect(tooBig.status).toBe(413);
    expectSecurityHeaders(tooBig, api);
    const malformed = await t.inject({ url: '/v1/sessions/%E0%A4%A', headers: A });
    expect(malformed.status).toBe(400);
    expectSecurityHeaders(malformed, api);
  });

  it('are on 5xx answers', async () => {
    const res = await as(A)('POST', '/v1/render', { url: DEAD_URL });
    expect(res.status).toBe(502);
    expectSecurityHeaders(res, api);
  });

  it('skip the CSP (and no-store) for Swagger UI at /docs*, keeping the others', async () => {
    for (const url of ['/docs', '/docs/', '/docs-json']) {
      const res = await t.inject(url);
      expect(res.status).toBe(200);
      expectSecurityHeaders(res, { csp: false, noStore: false });
    }
  });

  it('are set without keys configured too', async () => {
    await boot({ api_keys: [] });
    const res = await t.inject('/v1/sessions');
    expect(res.status).toBe(200);
    expectSecurityHeaders(res, api);
  });
});
