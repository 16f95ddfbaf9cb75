import { PROBE_CACHE_MS } from '../src/health/renderer-probe';
import { SessionStore } from '../src/session/session.store';
import { bootApp, BootedApp, InjectResponse } from './support/app';
import { closedPort } from './support/ports';
import { RENDERER_TOKEN, startRenderer } from './support/renderer';

jest.setTimeout(30_000);

interface Indicator {
  status: 'up' | 'down';
  [key: string]: unknown;
}
interface HealthBody {
  status: 'ok' | 'error' | 'shutting_down';
  info?: Record<string, Indicator>;
  error?: Record<string, Indicator>;
  details: Record<string, Indicator>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The first probe may launch Chromium, which can take longer than one probe's timeout. */
async function readyWithin(api: BootedApp, ms: number): Promise<InjectResponse<HealthBody>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await api.inject<HealthBody>('/health/ready');
    if (res.status === 200 || Date.now() > deadline) return res;
    await sleep(200);
  }
}

function expectNoStack(res: InjectResponse<unknown>): void {
  expect(res.text).not.toMatch(/\n\s+at |\.ts:\d+|node:internal|stack/);
}

describe('health probes', () => {
  describe('with the embedded renderer', () => {
    let api: BootedApp;
    let closed = false;

    beforeAll(async () => {
      api = await bootApp({ headless_port: 0 });
    });
    afterAll(async () => {
      if (api && !closed) await api.close();
    });

    it('GET /health/live is 200 with Terminus’ body, no dependency checked', async () => {
      const res = await api.inject<HealthBody>('/health/live');
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toContain('application/json');
      expect(res.headers['cache-control']).toBe('no-cache, no-store, must-revalidate');
      expect(res.body).toEqual({
        status: 'ok',
        info: { process: { status: 'up' } },
        error: {},
        details: { process: { status: 'up' } },
      });
    });

    it('GET /health/ready is 200: backend reachable, renderer healthy, not shutting down', async () => {
      const res = await readyWithin(api, 15_000);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        status: 'ok',
        info: res.body.details,
        error: {},
        details: {
          lifecycle: { status: 'up' },
          session_backend: { status: 'up', backend: 'memory' },
          renderers: { status: 'up', healthy: 1, total: 1 },
        },
      });
    });

    it('is unprefixed and unversioned', async () => {
      expect((await api.inject('/v1/health/live')).status).toBe(404);
      expect((await api.inject('/v1/health/ready')).status).toBe(404);
    });

    it('GET /health/ready is 503 when the session backend fails, with a short reason and no stack or address', async () => {
      const store = api.app.get(SessionStore);
      const err = Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:6379'), { code: 'ECONNREFUSED' });
      const ping = jest.spyOn(store, 'ping').mockRejectedValue(err);
      try {
        const res = await api.inject<HealthBody>('/health/ready');
        expect(res.status).toBe(503);
        expect(res.body.status).toBe('error');
        expect(res.body.error).toEqual({
          session_backend: { status: 'down', backend: 'memory', message: 'unreachable: ECONNREFUSED' },
        });
        expect(res.body.details.renderers.status).toBe('up');
        expect(res.text).not.toContain('10.1.2.3');
        expectNoStack(res);
        expect((await api.inject('/health/live')).status).toBe(200);
      } finally {
        ping.mockRestore();
      }
    });

    it('GET /health/ready does not hang on a backend that does not answer', async () => {
      const ping = jest.spyOn(api.app.get(SessionStore), 'ping').mockReturnValue(new Promise<void>(() => {}));
      try {
        const started = Date.now();
        const res = await api.inject<HealthBody>('/health/ready');
        expect(Date.now() - started).toBeLessThan(1500);
        expect(res.status).toBe(503);
        expect(res.body.error?.session_backend).toMatchObject({ status: 'down', message: 'unreachable: timeout' });
      } finally {
        ping.mockRestore();
      }
      expect((await api.inject('/health/ready')).status).toBe(200);
    });

    it('turns 503 as soon as shutdown begins, while the server still answers; liveness stays 200', async () => {
      expect((await api.inject('/health/ready')).status).toBe(200);
      // Hold the HTTP server open (Nest closes it after the shutdown hooks) to look inside.
      const adapter = api.app.getHttpAdapter();
      const closeServer = adapter.close.bind(adapter);
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let serverClosing = false;
      adapter.close = async () => {
        serverClosing = true;
        await released;
        return closeServer();
      };

      const closing = api.app.close();
      while (!serverClosing) await sleep(5);
      const ready = await api.inject<HealthBody>('/health/ready');
      expect(ready.status).toBe(503);
      expect(ready.body.error?.lifecycle).toEqual({ status: 'down', message: 'shutting down' });
      expect(ready.body.details.renderers.status).toBe('up');
      expect(ready.body.details.session_backend.status).toBe('up');
      expectNoStack(ready);
      expect((await api.inject('/health/live')).status).toBe(200);

      release();
      await closing;
      closed = true;
    });
  });

  describe('with HEADLESS_URLS', () => {
    it('GET /health/ready is 503 when the only renderer’s port is closed; liveness stays 200', async () => {
      const api = await bootApp({ headless_token: RENDERER_TOKEN, headless_urls: [`http://127.0.0.1:${await closedPort()}`] });
      try {
        const res = await api.inject<HealthBody>('/health/ready');
        expect(res.status).toBe(503);
        expect(res.headers['content-type']).toContain('application/json');
        expect(res.body).toEqual({
          status: 'error',
          info: {
            lifecycle: { status: 'up' },
            session_backend: { status: 'up', backend: 'memory' },
          },
          error: {
            renderers: { status: 'down', healthy: 0, total: 1, message: 'no renderer is healthy' },
          },
          details: {
            lifecycle: { status: 'up' },
            session_backend: { status: 'up', backend: 'memory' },
            renderers: { status: 'down', healthy: 0, total: 1, message: 'no renderer is healthy' },
          },
        });
        expectNoStack(res);
        expect((await api.inject('/health/live')).status).toBe(200);
      } finally {
        await api.close();
      }
    });

    it('is ready while one of several renderers is up, and follows a renderer that stops', async () => {
      const renderer = await startRenderer();
      let rendererOpen = true;
      const api = await bootApp({ headless_token: RENDERER_TOKEN, headless_urls: [renderer.url, `http://127.0.0.1:${await closedPort()}`] });
      try {
        const ready = await readyWithin(api, 15_000);
        expect(ready.status).toBe(200);
        expect(ready.body.details.renderers).toEqual({ status: 'up', healthy: 1, total: 2 });

        await renderer.app.close();
        rendererOpen = false;
        await sleep(PROBE_CACHE_MS + 100); // past the cached probe
        const down = await api.inject<HealthBody>('/health/ready');
        expect(down.status).toBe(503);
        expect(down.body.error?.renderers).toMatchObject({ status: 'down', healthy: 0, total: 2 });
      } finally {
        await api.close();
        if (rendererOpen) await renderer.app.close();
      }
    });
  });
});
