import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import { startSite, Site } from '../fixtures/site';
import { bootApp, BootedApp, ConfigOverrides, InjectResponse } from './app';
import { RENDERER_TOKEN, startRenderer, StartedRenderer } from './renderer';

export const KEY_A = 'cdp-key-tenant-a';
export const KEY_B = 'cdp-key-tenant-b';
export const auth = (key = KEY_A): { authorization: string } => ({ authorization: `Bearer ${key}` });

/** An API listening on loopback (WebSockets need a real socket), a real renderer, the local site. */
export interface CdpStack {
  api: BootedApp;
  renderer: StartedRenderer;
  site: Site;
  /** ws:// URL of a session's CDP route. */
  cdpUrl(sessionId: string, query?: string): string;
  /** POST /v1/render of the site's `path` in a session, with tenant A's key. */
  render(sessionId: string, path: string): Promise<InjectResponse<any>>; // JSON bodies, as BootedApp.inject gives them
  close(): Promise<void>;
}

export async function listenApi(api: BootedApp): Promise<string> {
  await api.app.listen(0, '127.0.0.1');
  return `ws://127.0.0.1:${(api.app.getHttpServer().address() as AddressInfo).port}`;
}

export async function startCdpStack(overrides: ConfigOverrides = {}, rendererOverrides: ConfigOverrides = {}): Promise<CdpStack> {
  const site = await startSite('127.0.0.2');
  const renderer = await startRenderer({ render_allowed_hosts: ['127.0.0.2'], ...rendererOverrides });
  const api = await bootApp({
    headless_token: RENDERER_TOKEN,
    headless_urls: [renderer.url],
    render_allowed_hosts: ['127.0.0.2'],
    api_keys: [`${KEY_A}:tenant-a`, `${KEY_B}:tenant-b`],
    ...overrides,
  });
  const base = await listenApi(api);
  return {
    api,
    renderer,
    site,
    cdpUrl: (sessionId, query) => `${base}/v1/sessions/${sessionId}/cdp${query ? `?${query}` : ''}`,
    render: (sessionId, path) =>
      api.inject({ method: 'POST', url: '/v1/render', headers: auth(), payload: { url: site.url(path), session_id: sessionId } }),
    close: async () => {
      await api.close();
      await renderer.app.close();
      await site.close();
    },
  };
}

export interface Refusal {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: { statusCode: number; error: string; message: string; request_id: string };
}

/** Tries a raw WebSocket upgrade; the HTTP refusal (status, headers, JSON body), or 'open'. */
export function tryUpgrade(url: string, headers: Record<string, string> = {}): Promise<Refusal | 'open'> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.once('open', () => {
      socket.close();
      resolve('open');
    });
    socket.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        socket.terminate();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) });
      });
    });
    socket.once('error', (err) => reject(err));
  });
}

/** Resolves with the close code and reason once the socket closes. */
export function closed(socket: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}

/** Polls until `check` holds (or fails after `timeoutMs`). */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
