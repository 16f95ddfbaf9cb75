/**
 * Slow clients cannot hold the service (DESIGN §5): 300 slow-loris sockets that never finish
 * their headers are cut off after HTTP_HEADERS_TIMEOUT_MS, and meanwhile a normal request is
 * answered at once — on the API's listener and on the renderer's.
 */
import { AddressInfo, connect, Socket } from 'node:net';
import { loadConfig } from '../src/config/app-config';
import { bootApp } from './support/app';
import { RENDERER_TOKEN, startRenderer } from './support/renderer';

jest.setTimeout(30_000);

const HEADERS_TIMEOUT_MS = 1000;
const SOCKETS = 300;
const TIMEOUTS = { http_headers_timeout_ms: HEADERS_TIMEOUT_MS, http_request_timeout_ms: 5000 };

/** Opens sockets that send a request line and one header, then trickle a header byte now and then. */
async function slowLoris(port: number): Promise<{ closedAt: Promise<number[]>; stop(): void }> {
  const sockets: Socket[] = [];
  const closed: Array<Promise<number>> = [];
  for (let i = 0; i < SOCKETS; i++) {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(`GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow-${i}: `);
    closed.push(new Promise((resolve) => socket.once('close', () => resolve(Date.now()))));
    sockets.push(socket);
  }
  const trickle = setInterval(() => sockets.forEach((s) => s.writable && s.write('a')), 200);
  return {
    closedAt: Promise.all(closed),
    stop: () => {
      clearInterval(trickle);
      sockets.forEach((s) => s.destroy());
    },
  };
}

async function expectCutOff(port: number, path: string, status: number): Promise<void> {
  const started = Date.now();
  const loris = await slowLoris(port);
  try {
    const answered = Date.now();
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
    expect(res.status).toBe(status);
    expect(Date.now() - answered).toBeLessThan(2000);

    const closedAt = await Promise.race([
      loris.closedAt,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('slow sockets still open')), 5000)),
    ]);
    // Cut after the headers timeout (checked every 250 ms here), not before it.
    expect(Math.max(...closedAt) - started).toBeLessThan(HEADERS_TIMEOUT_MS + 2500);
    expect(Math.min(...closedAt) - started).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
  } finally {
    loris.stop();
  }
}

describe('slow clients', () => {
  it('the API cuts slow-loris sockets off and keeps answering', async () => {
    const api = await bootApp({ ...TIMEOUTS, headless_urls: ['http://127.0.0.1:9'], headless_token: RENDERER_TOKEN });
    try {
      await api.app.listen(0, '127.0.0.1');
      await expectCutOff((api.app.getHttpServer().address() as AddressInfo).port, '/health/live', 200);
    } finally {
      await api.close();
    }
  });

  it('the renderer cuts slow-loris sockets off and keeps answering', async () => {
    const renderer = await startRenderer({ ...TIMEOUTS, chromium_path: '/nonexistent' });
    try {
      // /healthz answers 503 without a browser; reaching it at all is what counts here.
      await expectCutOff(renderer.port, '/healthz', 503);
    } finally {
      await renderer.app.close();
    }
  });

  it('refuses a headers timeout longer than the request timeout at start-up', () => {
    expect(() => loadConfig({ env: { HTTP_HEADERS_TIMEOUT_MS: '9000', HTTP_REQUEST_TIMEOUT_MS: '5000' } })).toThrow(
      'config error: HTTP_HEADERS_TIMEOUT_MS (http_headers_timeout_ms) must not exceed HTTP_REQUEST_TIMEOUT_MS, got 9000 > 5000',
    );
  });
});
