/**
 * The egress layer against real Chromium (DESIGN §5): every door a page has is tried towards a
 * canary on 127.0.0.1 (not allow-listed), from a site on 127.0.0.2 (allow-listed). Every test
 * talks to loopback only — also the traffic meant to be refused, so a failing test really
 * connects, and the canary counts it. The address ranges themselves (metadata, private, CGNAT,
 * IPv6 forms) are proven without connections in src/egress/*.spec.ts.
 */
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../src/config/app-config';
import { createHeadlessApp } from '../src/headless/headless.app';
import { CountingServer, startCountingServer } from './fixtures/counting-server';
import { DnsResponder, startDnsResponder } from './fixtures/dns-responder';
import { HostileSite, startHostileSite } from './fixtures/hostile-site';
import { startHttpUpstreamProxy, UpstreamProxyFixture } from './fixtures/upstream-proxy';
import { bootApp, BootedApp, ConfigOverrides } from './support/app';
import { RENDERER_TOKEN } from './support/renderer';

jest.setTimeout(60_000);

/** A context key as the API would send it (any 64 hex characters will do for the renderer). */
const contextKey = (name: string): string => createHash('sha256').update(name).digest('hex');

interface Renderer {
  post(body: object): Promise<{ status: number; body: any }>;
  logs: string[];
  close(): Promise<void>;
}

/** A renderer of our own, reached over HTTP like the API reaches it; its log lines are kept. */
async function startRenderer(overrides: ConfigOverrides = {}): Promise<Renderer> {
  const config = loadConfig({
    env: {},
    overrides: { log_level: 'debug', headless_token: RENDERER_TOKEN, render_allowed_hosts: ['127.0.0.2'], ...overrides },
  });
  const logs: string[] = [];
  const keep = (...parts: unknown[]): void => void logs.push(parts.map(String).join(' '));
  const app = await createHeadlessApp(config, {
    logger: { log: keep, error: keep, warn: keep, debug: keep, verbose: keep, fatal: keep },
  });
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  return {
    logs,
    post: async (body) => {
      const res = await fetch(`${base}/render`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${RENDERER_TOKEN}` },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: await res.json() };
    },
    close: () => app.close(),
  };
}

describe('egress policy in the browser (real Chromium)', () => {
  let site: HostileSite;
  /** The canary on 127.0.0.1, and a twin on ::1 with the same port for the [::1] vectors. */
  let canary: CountingServer;
  let canary6: CountingServer;
  let api: BootedApp;
  let renderer: Renderer;

  const canaryHits = (): number => canary.connections + canary6.connections;
  const render = (payload: object) => api.inject({ method: 'POST', url: '/v1/render', payload });

  beforeAll(async () => {
    site = await startHostileSite('127.0.0.2');
    canary = await startCountingServer('127.0.0.1');
    canary6 = await startCountingServer('::1', canary.port);
    api = await bootApp({ headless_port: 0, render_allowed_hosts: ['127.0.0.2'] });
    renderer = await startRenderer();
  });

  afterEach(() => {
    // Whatever a test did, nothing reached the canaries.
    expect(canaryHits()).toBe(0);
  });

  afterAll(async () => {
    await api?.close();
    await renderer?.close();
    await site?.close();
    await canary?.close();
    await canary6?.close();
  });

  describe('refused top-level navigations answer 422 naming the host', () => {
    const port = (): number => canary.port;
    it.each([
      ['302 to 127.0.0.1', () => site.url('/r302', `http://127.0.0.1:${port()}/`), '127.0.0.1'],
      ['307 to 127.0.0.1', () => site.url('/r307', `http://127.0.0.1:${port()}/`), '127.0.0.1'],
      ['302 to [::1]', () => site.url('/r302', `http://[::1]:${port()}/`), '[::1]'],
      ['302 to [::ffff:127.0.0.1]', () => site.url('/r302', `http://[::ffff:127.0.0.1]:${port()}/`), '[::ffff:7f00:1]'],
      ['302 to 2130706433', () => site.url('/r302', `http://2130706433:${port()}/`), '127.0.0.1'],
      ['302 to 0.0.0.0', () => site.url('/r302', `http://0.0.0.0:${port()}/`), '0.0.0.0'],
      ['a chain allowed -> allowed -> refused', () => site.url('/chain', `http://127.0.0.1:${port()}/`), '127.0.0.1'],
      ["a page script's location.href", () => site.url('/script-nav', `http://127.0.0.1:${port()}/`), '127.0.0.1'],
      ['a meta refresh', () => site.url('/meta', `http://127.0.0.1:${port()}/`), '127.0.0.1'],
    ])('%s', async (_name, url, host) => {
      const res = await render({ url: url(), timeouts: { idle_after_dcl_ms: 500 } });
      expect(res.status).toBe(422);
      expect(res.body.message).toContain(`host '${host}'`);
    });

    it("a js action's navigation", async () => {
      const res = await render({
        url: site.url('/static'),
        actions: [{ type: 'js', code: `location.href = 'http://127.0.0.1:${canary.port}/from-action'` }],
      });
      expect(res.status).toBe(422);
      expect(res.body.message).toContain("host '127.0.0.1'");
    });

    it('the first URL itself, when the renderer is asked directly', async () => {
      const res = await renderer.post({ url: `http://127.0.0.1:${canary.port}/` });
      expect(res.status).toBe(422);
      expect(res.body).toMatchObject({ kind: 'egress_refused', error: expect.stringContaining("host '127.0.0.1'") });
    });
  });

  it('lists refused sub-requests (img, iframe, fetch, WebSocket, worker fetch, popup) in a 200 answer', async () => {
    const to = `http://127.0.0.1:${canary.port}/`;
    const res = await render({ url: site.url('/subrequests', to), wait_for: '#done' });
    expect(res.status).toBe(200);
    expect(res.body.html).toContain('fetch: failed');
    expect(res.body.html).toContain('websocket: failed');
    expect(res.body.html).toContain('worker: failed');
    const origin = `http://127.0.0.1:${canary.port}`;
    expect(res.body.blocked_requests).toEqual(
      expect.arrayContaining([
        { url: `${origin}/img.png`, reason: 'loopback' },
        { url: `${origin}/frame`, reason: 'loopback' },
        { url: `${origin}/fetch`, reason: 'loopback' },
        { url: `ws://127.0.0.1:${canary.port}/socket`, reason: 'loopback' },
        { url: `${origin}/worker-fetch`, reason: 'loopback' },
        { url: `${origin}/popup`, reason: 'loopback' },
      ]),
    );
  });

  it('answers 200 with an empty blocked_requests when nothing was refused', async () => {
    const res = await render({ url: site.url('/static') });
    expect(res.status).toBe(200);
    expect(res.body.blocked_requests).toEqual([]);
  });
});

describe('DNS rebinding (RENDER_DNS_SERVERS answers an allowed address first, 127.0.0.1 afterwards, TTL 0)', () => {
  let site: HostileSite;
  let canary: CountingServer;
  let dns: DnsResponder;
  let api: BootedApp;
  const answered = new Map<string, number>();

  beforeAll(async () => {
    site = await startHostileSite('127.0.0.2');
    // The canary listens on the site's port: a connection that followed the second answer would reach it.
    canary = await startCountingServer('127.0.0.1', site.port);
    dns = await startDnsResponder((name, type) => {
      if (type === 'AAAA') return [];
      const n = answered.get(name) ?? 0;
      answered.set(name, n + 1);
      return [n === 0 ? '127.0.0.2' : '127.0.0.1'];
    });
    api = await bootApp({ headless_port: 0, render_allowed_hosts: ['127.0.0.2'], render_dns_servers: [dns.server] });
  });

  afterAll(async () => {
    await api?.close();
    await dns?.close();
    await site?.close();
    await canary?.close();
  });

  it('never reaches the canary: the first render is refused by the renderer, later ones by the API', async () => {
    const url = `http://rebind.test:${site.port}/static`;
    const first = await api.inject({ method: 'POST', url: '/v1/render', payload: { url } });
    expect(first.status).toBe(422);
    expect(first.body.message).toContain("host 'rebind.test'");
    for (let i = 0; i < 3; i++) {
      const again = await api.inject({ method: 'POST', url: '/v1/render', payload: { url } });
      expect(again.status).toBe(422);
    }
    expect(canary.connections).toBe(0);
  });

  it("never reaches the canary from a page's sub-requests to a rebinding name", async () => {
    const to = `http://sub.rebind.test:${site.port}/`;
    const res = await api.inject({ method: 'POST', url: '/v1/render', payload: { url: site.url('/subrequests', to), wait_for: '#done' } });
    expect(res.status).toBe(200);
    expect(res.body.blocked_requests.length).toBeGreaterThan(0);
    expect(res.body.blocked_requests.every((b: { reason: string }) => b.reason === 'loopback')).toBe(true);
    expect(canary.connections).toBe(0);
    expect(dns.queries.filter((q) => q.endsWith('sub.rebind.test')).length).toBeGreaterThan(2);
  });
});

describe("the API's early check keeps a name's answer for its TTL (RENDER_DNS_SERVERS, TTL 60)", () => {
  let canary: CountingServer;
  let dns: DnsResponder;
  let api: BootedApp;

  beforeAll(async () => {
    canary = await startCountingServer('127.0.0.1', 0);
    dns = await startDnsResponder((_, type) => (type === 'A' ? ['127.0.0.1'] : []), '127.0.0.3', 60);
    api = await bootApp({ headless_port: 0, render_allowed_hosts: ['127.0.0.2'], render_dns_servers: [dns.server] });
  });

  afterAll(async () => {
    await api?.close();
    await dns?.close();
    await canary?.close();
  });

  it('refuses every render of a name that resolves to a refused address, asking DNS once', async () => {
    const url = `http://kept.test:${canary.port}/`;
    for (let i = 0; i < 3; i++) {
      const res = await api.inject({ method: 'POST', url: '/v1/render', payload: { url } });
      expect(res.status).toBe(422);
      expect(res.body.message).toContain("url host 'kept.test' is refused by the egress policy (loopback: 127.0.0.1)");
    }
    expect(dns.queries.filter((q) => q.endsWith(' kept.test')).sort()).toEqual(['A kept.test', 'AAAA kept.test']);
    expect(canary.connections).toBe(0);
  });
});

describe('upstream proxy (renderer side)', () => {
  const credentials = { username: 'scraper', password: 'pa55-w0rd-never-logged' };
  let site: HostileSite;
  let upstream: UpstreamProxyFixture;
  /** What the upstream carried for the page itself (the browser also asks it for /favicon.ico). */
  const carriedPages = (): string[] => upstream.carried.filter((c) => c.endsWith('/static'));

  beforeAll(async () => {
    site = await startHostileSite('127.0.0.2');
    upstream = await startHttpUpstreamProxy(credentials);
  });

  afterAll(async () => {
    await upstream?.close();
    await site?.close();
  });

  it("chains a render with `proxy` through it (credentials sent), and a render without it not at all", async () => {
    // The test proxy runs on 127.0.0.1; a session's proxy must pass the policy, so it is allow-listed here.
    const renderer = await startRenderer({ render_allowed_hosts: ['127.0.0.2', '127.0.0.1'] });
    try {
      const proxy = { server: upstream.server, ...credentials };
      const via = await renderer.post({ url: site.url('/static'), context_key: contextKey('proxied'), proxy });
      expect(via.status).toBe(200);
      expect(via.body.html).toContain('<h1>static</h1>');
      expect(carriedPages()).toEqual([`GET ${site.url('/static')}`]);

      const direct = await renderer.post({ url: site.url('/static'), context_key: contextKey('direct') });
      expect(direct.status).toBe(200);
      expect(carriedPages()).toHaveLength(1);

      const wrong = await renderer.post({ url: site.url('/static'), context_key: contextKey('wrong'), proxy: { ...proxy, password: 'not-the-pa55' } });
      expect(wrong.status).toBe(502);
      expect(upstream.refusedAuth).toBeGreaterThan(0);

      const logs = renderer.logs.join('\n');
      expect(logs).toContain(`upstream proxy ${upstream.server} refused the credentials`);
      expect(logs).not.toContain(credentials.password);
      expect(logs).not.toContain('not-the-pa55');
    } finally {
      await renderer.close();
    }
  });

  it("refuses a session proxy on a host the policy refuses (a tenant cannot name an internal host)", async () => {
    const renderer = await startRenderer();
    try {
      const res = await renderer.post({ url: site.url('/static'), proxy: { server: upstream.server, ...credentials } });
      expect(res.status).toBe(422);
      expect(res.body.error).toContain('proxy host');
      expect(res.body.error).not.toContain(credentials.password);
    } finally {
      await renderer.close();
    }
  });

  it('uses RENDER_UPSTREAM_PROXY (trusted, even on loopback) for renders without a proxy of their own', async () => {
    const before = carriedPages().length;
    const server = upstream.server.replace('http://', `http://${credentials.username}:${credentials.password}@`);
    const renderer = await startRenderer({ render_upstream_proxy: server });
    try {
      const res = await renderer.post({ url: site.url('/static') });
      expect(res.status).toBe(200);
      expect(carriedPages()).toHaveLength(before + 1);
      expect(renderer.logs.join('\n')).not.toContain(credentials.password);
    } finally {
      await renderer.close();
    }
  });
});
