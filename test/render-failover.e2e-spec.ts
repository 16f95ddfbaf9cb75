/**
 * A renderer that refuses a render without running it (busy, draining) is passed over for the
 * next one, and a render that no renderer ran gives its session request back (DESIGN §5); one
 * that takes a render and never answers is given up on after the hard cap. Real Chromium in
 * standalone renderers; site on 127.0.0.2.
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer, Socket } from 'node:net';
import { startSite, Site } from './fixtures/site';
import { bootApp, BootedApp } from './support/app';
import { RENDERER_TOKEN, startRenderer, StartedRenderer } from './support/renderer';

jest.setTimeout(60_000);

describe('renderer failover', () => {
  let site: Site;

  beforeAll(async () => {
    site = await startSite('127.0.0.2');
  });

  afterAll(async () => {
    await site?.close();
  });

  const boot = (renderers: StartedRenderer[]): Promise<BootedApp> =>
    bootApp({ headless_urls: renderers.map((r) => r.url), headless_token: RENDERER_TOKEN, render_allowed_hosts: ['127.0.0.2'] });

  it('answers 503 busy with Retry-After when no renderer has a slot, and uses up no session request', async () => {
    const renderer = await startRenderer({ headless_max_concurrency: 1, headless_max_queue: 0 });
    const api = await boot([renderer]);
    try {
      const render = (path: string, sessionId: string) =>
        api.inject({ method: 'POST', url: '/v1/render', payload: { url: site.url(path), session_id: sessionId } });
      const slowBefore = site.hits('/slow');
      const holding = render('/slow?ms=1500', 'holder');
      await site.waitForHits('/slow', slowBefore + 1);
      const refused = await render('/static', 'refunded');
      expect(refused.status).toBe(503);
      expect(refused.headers['retry-after']).toBe('1');
      expect(refused.body.message).toMatch(/^renderer unavailable: renderer busy/);
      const session = await api.inject('/v1/sessions/refunded');
      expect(session.body.state).toMatchObject({ request_count: 0, error_count: 0 });
      expect((await holding).status).toBe(200);
    } finally {
      await api.close();
      await renderer.app.close();
    }
  });

  it('answers 504 when a renderer takes the render and never answers, and records it on the session', async () => {
    // A renderer whose process hangs: it accepts the connection and reads, but never answers.
    const held: Socket[] = [];
    const hung = createServer((socket) => {
      held.push(socket);
      socket.resume();
    });
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const api = await bootApp({
      headless_urls: [`http://127.0.0.1:${(hung.address() as { port: number }).port}`],
      headless_token: RENDERER_TOKEN,
      render_allowed_hosts: ['127.0.0.2'],
    });
    try {
      const started = Date.now();
      const res = await api.inject({
        method: 'POST',
        url: '/v1/render',
        payload: { url: site.url('/static'), session_id: 'hung', timeouts: { hard_cap_ms: 500 } },
      });
      const took = Date.now() - started;
      expect(res.status).toBe(504);
      expect(res.body.message).toBe('render timed out after 2500 ms'); // the hard cap + the RPC margin
      expect(took).toBeGreaterThanOrEqual(2400);
      expect(took).toBeLessThan(10_000);
      const session = await api.inject('/v1/sessions/hung');
      expect(session.body.state).toMatchObject({ request_count: 1, error_count: 1, last_error: 'render timed out after 2500 ms' });
      const metrics = await api.inject('/metrics');
      expect(metrics.text).toMatch(/^riptide_renderer_rpc_errors_total\{kind="rpc_timeout"\} 1$/m);
    } finally {
      await api.close();
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => hung.close(resolve));
    }
  });

  it("passes a render on when a closing renderer's framework answers 503 for it (no kind)", async () => {
    // What Fastify answers (return503OnClosing) for a request that arrives on a busy keep-alive
    // connection once the renderer's drain is over and its server closes: no handler ran.
    const closing = createHttpServer((request, response) => {
      request.resume();
      request.on('end', () => {
        response.writeHead(503, { 'content-type': 'application/json', connection: 'close' });
        response.end('{"error":"Service Unavailable","message":"Service Unavailable","statusCode":503}');
      });
    });
    await new Promise<void>((resolve) => closing.listen(0, '127.0.0.1', resolve));
    let refused = 0;
    closing.on('request', (request) => {
      if (request.method === 'POST' && request.url === '/render') refused++;
    });
    const renderer = await startRenderer();
    const api = await bootApp({
      headless_urls: [`http://127.0.0.1:${(closing.address() as { port: number }).port}`, renderer.url],
      headless_token: RENDERER_TOKEN,
      render_allowed_hosts: ['127.0.0.2'],
    });
    try {
      // Renders without a session take the renderers in turn: one of these two goes to the closing one first.
      for (let i = 0; i < 2; i++) {
        const res = await api.inject({ method: 'POST', url: '/v1/render', payload: { url: site.url('/static') } });
        expect(res.status).toBe(200);
        expect(res.body.html).toContain('<h1>static</h1>');
      }
      expect(refused).toBe(1);
    } finally {
      await api.close();
      await renderer.app.close();
      await new Promise((resolve) => closing.close(resolve));
    }
  });

  it('rolls one of two renderers under load without a 503 or a request used up by a render that never ran', async () => {
    const renderers = [await startRenderer(), await startRenderer()];
    const api = await boot(renderers);
    try {
      const SESSIONS = 8;
      const ROUNDS = 6;
      const render = (i: number, path: string) =>
        api.inject({ method: 'POST', url: '/v1/render', payload: { url: site.url(path), session_id: `roll-${i}` } });
      for (let i = 0; i < SESSIONS; i++) expect((await render(i, '/static')).status).toBe(200); // warm both
      // A long render holds renderer 0 in its drain while every session keeps rendering back to
      // back, so renders arrive at a draining renderer (503 shutting_down) and must go elsewhere.
      const statuses: number[] = [];
      const load = Promise.all(
        Array.from({ length: SESSIONS }, async (_, i) => {
          for (let round = 0; round < ROUNDS; round++) statuses.push((await render(i, '/slow?ms=300')).status);
        }),
      );
      // The held render's page is on a site of its own, so its hit proves renderer 0 is running
      // it: closing earlier (a loaded machine may not even have connected yet) would reset it.
      const heldSite = await startSite('127.0.0.2');
      try {
        const held = fetch(`${renderers[0].url}/render`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${RENDERER_TOKEN}` },
          body: JSON.stringify({ url: heldSite.url('/slow?ms=2500') }),
        });
        await heldSite.waitForHits('/slow', 1);
        await renderers[0].app.close(); // SIGTERM's path: drain (503 shutting_down), then close
        await load;
        expect((await held).status).toBe(200);
      } finally {
        await heldSite.close();
      }

      expect(statuses).toHaveLength(SESSIONS * ROUNDS);
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
      for (let i = 0; i < SESSIONS; i++) {
        const session = await api.inject(`/v1/sessions/roll-${i}`);
        expect(session.body.state).toMatchObject({ request_count: ROUNDS + 1, error_count: 0 });
      }
    } finally {
      await api.close();
      await renderers[1].app.close();
    }
  });
});
