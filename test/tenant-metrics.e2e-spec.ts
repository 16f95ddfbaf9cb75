/**
 * GET /v1/sessions/metrics and POST /v1/sessions/cleanup with two API keys (DESIGN §3, §5):
 * each tenant sees the aggregates of its own sessions only, and a cleanup's `removed` counts
 * only the caller's sessions, while the Prometheus exposition (/metrics) stays global. The
 * whole API over Fastify inject, memory backend, fake clock; one real renderer, and renders go
 * to a closed port, so they run and fail fast after their session request was reserved.
 */
import { bootApp, BootedApp, FakeClock } from './support/app';
import { deadSiteUrl } from './support/ports';
import { RENDERER_TOKEN, startRenderer, StartedRenderer } from './support/renderer';

jest.setTimeout(30_000);

const ALPHA = 'key-alpha-0001';
const BETA = 'key-beta-0002';
const SEC = 1000;

type Headers = Record<string, string>;
const A: Headers = { authorization: `Bearer ${ALPHA}` };
const B: Headers = { 'x-api-key': BETA };

let t: BootedApp;
let clock: FakeClock;
let renderer: StartedRenderer;
let deadUrl: string;

beforeAll(async () => {
  renderer = await startRenderer();
  deadUrl = await deadSiteUrl();
});
afterAll(() => renderer?.app.close());

beforeEach(async () => {
  clock = new FakeClock();
  t = await bootApp(
    {
      api_keys: [`${ALPHA}:alpha`, `${BETA}:beta`],
      headless_urls: [renderer.url],
      headless_token: RENDERER_TOKEN,
      render_allowed_hosts: ['127.0.0.2'],
    },
    { clock },
  );
});
afterEach(() => t.close());

const call =
  (headers: Headers) =>
  <T = any>(method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
    t.inject<T>({ method, url, headers, payload });
const alpha = call(A);
const beta = call(B);

async function metricsOf(as: ReturnType<typeof call>): Promise<Record<string, number | null>> {
  const res = await as('GET', '/v1/sessions/metrics');
  expect(res.status).toBe(200);
  return res.body;
}

async function cleanupAs(as: ReturnType<typeof call>): Promise<number> {
  const res = await as<{ removed: number }>('POST', '/v1/sessions/cleanup');
  expect(res.status).toBe(200);
  return res.body.removed;
}

/** A sample's value in the Prometheus text exposition. */
function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no sample ${name} in /metrics`);
  return Number(line.slice(name.length + 1));
}

describe('per-tenant session metrics', () => {
  it("answers each tenant with its own sessions' aggregates only", async () => {
    for (const id of ['a1', 'a2']) expect((await alpha('POST', '/v1/sessions', { session_id: id })).status).toBe(201);
    clock.advance(10 * SEC);
    expect((await beta('POST', '/v1/sessions', { session_id: 'b1' })).status).toBe(201);
    // The page is not there (502), but each render's session request is taken.
    for (let i = 0; i < 3; i++) expect((await alpha('POST', '/v1/render', { url: deadUrl, session_id: 'a1' })).status).toBe(502);
    expect((await alpha('DELETE', '/v1/sessions/a2')).status).toBe(204);
    // a1 keeps its last url and error: the bytes its tenant's storage budget counts.
    const a1 = (await alpha<{ state: { last_url: string; last_error: string } }>('GET', '/v1/sessions/a1')).body.state;
    expect(a1.last_url).toBe(deadUrl);

    expect(await metricsOf(alpha)).toEqual({
      active_sessions: 1,
      total_requests: 3,
      avg_render_time_ms: 0,
      avg_session_age_seconds: 10,
      render_time_ms_p50: null,
      render_time_ms_p95: null,
      render_time_ms_p99: null,
      created_total: 2,
      expired_total: 0,
      removed_total: 1,
      stored_bytes: Buffer.byteLength(a1.last_url + a1.last_error),
    });
    expect(await metricsOf(beta)).toEqual({
      active_sessions: 1,
      total_requests: 0,
      avg_render_time_ms: 0,
      avg_session_age_seconds: 0,
      render_time_ms_p50: null,
      render_time_ms_p95: null,
      render_time_ms_p99: null,
      created_total: 1,
      expired_total: 0,
      removed_total: 0,
      stored_bytes: 0,
    });

    // Prometheus keeps the global numbers.
    const scrape = await t.inject('/metrics');
    expect(scrape.status).toBe(200);
    expect(sample(scrape.text, 'riptide_sessions_active')).toBe(2);
    expect(sample(scrape.text, 'riptide_sessions_created_total')).toBe(3);
    expect(sample(scrape.text, 'riptide_sessions_removed_total')).toBe(1);
  });

  it("counts expiry per tenant, and a cleanup's `removed` counts only the caller's sessions", async () => {
    await alpha('POST', '/v1/sessions', { session_id: 'short', ttl_seconds: 1 });
    await alpha('POST', '/v1/sessions', { session_id: 'long', ttl_seconds: 100 });
    for (const id of ['b1', 'b2']) await beta('POST', '/v1/sessions', { session_id: id, ttl_seconds: 1 });
    clock.advance(SEC);

    // The sweep removes all three expired sessions; alpha is told about its own one only.
    expect(await cleanupAs(alpha)).toBe(1);
    expect(await cleanupAs(beta)).toBe(0); // already swept
    expect(await metricsOf(alpha)).toMatchObject({ active_sessions: 1, expired_total: 1, created_total: 2 });
    expect(await metricsOf(beta)).toMatchObject({ active_sessions: 0, expired_total: 2, created_total: 2 });

    await beta('POST', '/v1/sessions', { session_id: 'b3', ttl_seconds: 1 });
    clock.advance(SEC);
    expect(await cleanupAs(alpha)).toBe(0);
    expect(await metricsOf(beta)).toMatchObject({ active_sessions: 0, expired_total: 3 });
    expect(await metricsOf(alpha)).toMatchObject({ active_sessions: 1, expired_total: 1, avg_session_age_seconds: 2 });

    const scrape = await t.inject('/metrics');
    expect(sample(scrape.text, 'riptide_sessions_active')).toBe(1);
    expect(sample(scrape.text, 'riptide_sessions_expired_total')).toBe(4);
  });
});
