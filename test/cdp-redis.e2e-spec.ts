/**
 * The connection lock on the Redis backend, across API instances (DESIGN §3 "CDP sessions",
 * §4): instance A (a real process, `node dist/main.js`) holds a session's connection; B
 * refuses a second connection and a render (409); A is killed with SIGKILL, so nothing releases
 * the lock; B connects once the lease has run out. Database 9.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CDP_LOCK_LEASE_MS } from '../src/cdp/cdp-gateway.service';
import { startSite, Site } from './fixtures/site';
import { bootApp, BootedApp } from './support/app';
import { auth, eventually, KEY_A, KEY_B, listenApi, tryUpgrade } from './support/cdp';
import { deleteKeys, redisUrl } from './support/redis';
import { RENDERER_TOKEN, startRenderer, StartedRenderer } from './support/renderer';

jest.setTimeout(180_000);

const DB = 9;
const ROOT = join(__dirname, '..');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

describe('CDP on the Redis backend: a killed instance frees its lock when the lease runs out', () => {
  let site: Site;
  let renderer: StartedRenderer;
  let b: BootedApp;
  let bBase: string;
  let a: ChildProcess | undefined;
  let aBase: string;

  beforeAll(async () => {
    await deleteKeys(DB, 'riptide:');
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'ignore' });
    site = await startSite('127.0.0.2');
    renderer = await startRenderer({ render_allowed_hosts: ['127.0.0.2'] });
    const shared = {
      session_backend: 'redis',
      redis_url: redisUrl(DB),
      headless_token: RENDERER_TOKEN,
      headless_urls: [renderer.url],
      render_allowed_hosts: ['127.0.0.2'],
      api_keys: [`${KEY_A}:tenant-a`, `${KEY_B}:tenant-b`],
    };
    b = await bootApp(shared);
    bBase = await listenApi(b);

    const port = await freePort();
    aBase = `ws://127.0.0.1:${port}`;
    a = spawn(process.execPath, ['dist/main.js'], {
      cwd: ROOT,
      stdio: 'ignore',
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'silent',
        SESSION_BACKEND: 'redis',
        REDIS_URL: redisUrl(DB),
        HEADLESS_TOKEN: RENDERER_TOKEN,
        HEADLESS_URLS: renderer.url,
        RENDER_ALLOWED_HOSTS: '127.0.0.2',
        API_KEYS: shared.api_keys.join(','),
      },
    });
    await eventually(async () => (await fetch(`http://127.0.0.1:${port}/health/live`).catch(() => null))?.status === 200, 30_000);
  });

  afterAll(async () => {
    a?.kill('SIGKILL');
    await b?.close();
    await renderer?.app.close();
    await site?.close();
    await deleteKeys(DB, 'riptide:');
  });

  const cdpUrl = (base: string, id: string) => `${base}/v1/sessions/${id}/cdp`;

  it('B refuses while A is connected; after kill -9 of A, B connects once the lease has run out', async () => {
    const viaA = await chromium.connectOverCDP(cdpUrl(aBase, 'crash'), { headers: auth() });
    const page = viaA.contexts()[0].pages()[0];
    await page.goto(site.url('/login'));

    const second = await tryUpgrade(cdpUrl(bBase, 'crash'), auth());
    expect(second !== 'open' && second.status).toBe(409);
    const render = await b.inject({ method: 'POST', url: '/v1/render', headers: auth(), payload: { url: site.url('/static'), session_id: 'crash' } });
    expect(render.status).toBe(409);

    const exited = new Promise((resolve) => a!.once('exit', resolve));
    a!.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();

    // The lease still holds right after the kill...
    const early = await tryUpgrade(cdpUrl(bBase, 'crash'), auth());
    expect(early !== 'open' && early.status).toBe(409);
    // ...and runs out within its length.
    let viaB: Awaited<ReturnType<typeof chromium.connectOverCDP>> | undefined;
    await eventually(async () => {
      viaB = await chromium.connectOverCDP(cdpUrl(bBase, 'crash'), { headers: auth() }).catch(() => undefined);
      return viaB !== undefined;
    }, CDP_LOCK_LEASE_MS + 5000);
    expect(Date.now() - killedAt).toBeLessThan(CDP_LOCK_LEASE_MS + 5000);
    const pageB = viaB!.contexts()[0].pages()[0];
    await pageB.goto(site.url('/static'));
    await expect(pageB.locator('h1').textContent()).resolves.toBe('static');
    await viaB!.close();

    const session = await b.inject({ url: '/v1/sessions/crash', headers: auth() });
    // A's connection and B's; the refused attempts used up none.
    expect(session.body.state.request_count).toBe(2);
  });
});
