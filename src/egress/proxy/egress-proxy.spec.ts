import { request } from 'node:http';
import type { Socket } from 'node:net';
import { CountingServer, startCountingServer } from '../../../test/fixtures/counting-server';
import { startHttpUpstreamProxy, startSocks5Proxy, UpstreamProxyFixture } from '../../../test/fixtures/upstream-proxy';
import { AllowList } from '../allow-list';
import { EgressPolicy } from '../egress-policy';
import { HostResolver } from '../host-resolver';
import { parseUpstreamProxy, ProxySetting, UpstreamProxy } from '../upstream-proxy';
import { ConnectFailure, EgressProxy, Refusal } from './egress-proxy';

/** Everything here is on loopback: 127.0.0.2 is the allowed "internet", 127.0.0.1 the canary. */
const CREDENTIALS = { username: 'user', password: 's3cret-pass' };

interface Harness {
  proxy: EgressProxy;
  port: number;
  refusals: Refusal[];
  failures: ConnectFailure[];
}

async function startProxy(options: { allowed?: string[]; resolve?: HostResolver; upstream?: UpstreamProxy | null } = {}): Promise<Harness> {
  const parsed = AllowList.parse(options.allowed ?? ['127.0.0.2']);
  if ('problem' in parsed) throw new Error(parsed.problem);
  const resolve: HostResolver = options.resolve ?? (async () => ({ ok: false, error: 'ENOTFOUND' }));
  const refusals: Refusal[] = [];
  const failures: ConnectFailure[] = [];
  const proxy = new EgressProxy({
    policy: new EgressPolicy(parsed.list, resolve),
    resolve,
    upstream: () => options.upstream ?? null,
    onRefused: (r) => refusals.push(r),
    onFailure: (m) => failures.push(m),
  });
  const url = await proxy.listen();
  return { proxy, port: Number(new URL(url).port), refusals, failures };
}

/** A plain-HTTP request through the proxy: the answer's body, or the error that ended it. */
function viaProxy(port: number, url: string): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: url, headers: { host: new URL(url).host }, agent: false });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end();
  });
}

/** CONNECT through the proxy, then one GET inside the tunnel. */
function tunnel(port: number, authority: string): Promise<{ status: number; body?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'CONNECT', path: authority, agent: false });
    req.on('connect', (res, socket: Socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        return resolve({ status: res.statusCode ?? 0 });
      }
      let body = '';
      socket.on('data', (c: Buffer) => (body += c.toString()));
      socket.on('end', () => resolve({ status: 200, body }));
      socket.write(`GET /tunnelled HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`);
    });
    req.on('error', reject);
    req.end();
  });
}

const upstream = (setting: ProxySetting, trusted: boolean): UpstreamProxy => {
  const parsed = parseUpstreamProxy(setting, trusted);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
};

describe('EgressProxy', () => {
  let site: CountingServer;
  let canary: CountingServer;
  const harnesses: Harness[] = [];
  const proxies: UpstreamProxyFixture[] = [];
  const start = async (options: Parameters<typeof startProxy>[0] = {}): Promise<Harness> => {
    const h = await startProxy(options);
    harnesses.push(h);
    return h;
  };

  beforeAll(async () => {
    canary = await startCountingServer('127.0.0.1');
    // The same port on the allowed address, so that a name can point at either.
    site = await startCountingServer('127.0.0.2', canary.port, (req, res) => res.end(`site ${req.url}`));
  });

  beforeEach(() => {
    canary.hits.length = 0;
    canary.connections = 0;
  });

  afterEach(async () => {
    await Promise.all(harnesses.splice(0).map((h) => h.proxy.close()));
    await Promise.all(proxies.splice(0).map((p) => p.close()));
    expect(canary.connections).toBe(0);
  });

  afterAll(async () => {
    await site.close();
    await canary.close();
  });

  it('forwards plain HTTP to an allowed address and refuses a loopback one with a closed socket', async () => {
    const { port, refusals } = await start();
    expect(await viaProxy(port, `http://${site.authority}/page?q=1`)).toEqual({ status: 200, body: 'site /page?q=1' });
    expect(await viaProxy(port, `http://${canary.authority}/secret`)).toEqual({ error: 'ECONNRESET' });
    expect(await viaProxy(port, `http://2130706433:${canary.port}/numeric`)).toEqual({ error: 'ECONNRESET' });
    expect(refusals).toEqual([
      { url: `http://${canary.authority}/secret`, authority: canary.authority, host: '127.0.0.1', reason: 'loopback' },
      { url: `http://${canary.authority}/numeric`, authority: canary.authority, host: '127.0.0.1', reason: 'loopback' },
    ]);
  });

  it('tunnels CONNECT to an allowed address and answers 403 for a refused one', async () => {
    const { port, refusals } = await start();
    expect(await tunnel(port, site.authority)).toEqual({ status: 200, body: expect.stringContaining('site /tunnelled') });
    expect(await tunnel(port, canary.authority)).toEqual({ status: 403 });
    expect(await tunnel(port, `[::ffff:127.0.0.1]:${canary.port}`)).toEqual({ status: 403 });
    expect(await tunnel(port, `[::1]:${canary.port}`)).toEqual({ status: 403 });
    expect(refusals.map((r) => [r.url, r.reason])).toEqual([
      [canary.authority, 'loopback'],
      [`[::ffff:7f00:1]:${canary.port}`, 'loopback'],
      [`[::1]:${canary.port}`, 'loopback'],
    ]);
  });

  it('connects to the address it checked, even when the name resolves elsewhere a moment later (rebinding)', async () => {
    let lookups = 0;
    const rebinding: HostResolver = async () => ({ ok: true, addresses: [lookups++ % 2 === 0 ? '127.0.0.2' : '127.0.0.1'] });
    const { port, refusals } = await start({ resolve: rebinding });
    for (let i = 0; i < 3; i++) {
      expect(await viaProxy(port, `http://rebind.test:${site.port}/http${i}`)).toEqual({ status: 200, body: `site /http${i}` });
      expect(await viaProxy(port, `http://rebind.test:${site.port}/refused`)).toEqual({ error: 'ECONNRESET' });
      expect(await tunnel(port, `rebind.test:${site.port}`)).toEqual({ status: 200, body: expect.stringContaining('site /tunnelled') });
      expect(await tunnel(port, `rebind.test:${site.port}`)).toEqual({ status: 403 });
    }
    expect(refusals).toHaveLength(6);
    expect(new Set(refusals.map((r) => r.host))).toEqual(new Set(['rebind.test']));
  });

  it('never lets a page reach an egress listener, even with loopback allow-listed', async () => {
    const other = await start();
    const { port, refusals } = await start({ allowed: ['127.0.0.0/8'] });
    expect(await tunnel(port, `127.0.0.1:${other.port}`)).toEqual({ status: 403 });
    expect(refusals).toEqual([expect.objectContaining({ reason: 'loopback' })]);
  });

  it("lets through a site on another loopback address that happens to use a listener's port number", async () => {
    const other = await start();
    const { createServer } = await import('node:http');
    const twin = createServer((_req, res) => res.end('twin')).listen(other.port, '127.0.0.2');
    await new Promise((resolve) => twin.once('listening', resolve));
    try {
      const { port } = await start();
      expect(await viaProxy(port, `http://127.0.0.2:${other.port}/`)).toEqual({ status: 200, body: 'twin' });
    } finally {
      twin.close();
    }
  });

  it.each([
    ['http', startHttpUpstreamProxy],
    ['socks5', startSocks5Proxy],
  ])('chains allowed traffic through a %s upstream with credentials, and never sends it refused traffic', async (_kind, startUpstream) => {
    const fixture = await startUpstream(CREDENTIALS);
    proxies.push(fixture);
    const { port } = await start({ upstream: upstream({ server: fixture.server, ...CREDENTIALS }, true) });
    expect(await viaProxy(port, `http://${site.authority}/chained`)).toEqual({ status: 200, body: 'site /chained' });
    expect(await tunnel(port, site.authority)).toEqual({ status: 200, body: expect.stringContaining('site /tunnelled') });
    expect(await tunnel(port, canary.authority)).toEqual({ status: 403 });
    expect(fixture.carried).toHaveLength(2);
    expect(fixture.carried.join(' ')).toContain(site.authority);
    expect(fixture.refusedAuth).toBe(0);
  });

  it('fails the connection when the upstream refuses the credentials', async () => {
    const fixture = await startHttpUpstreamProxy(CREDENTIALS);
    proxies.push(fixture);
    const { port, failures } = await start({ upstream: upstream({ server: fixture.server, username: 'user', password: 'wrong' }, true) });
    expect(await tunnel(port, site.authority)).toEqual({ status: 502 });
    expect(await viaProxy(port, `http://${site.authority}/x`)).toEqual({ error: 'ECONNRESET' });
    expect(fixture.refusedAuth).toBe(2);
    expect(failures).toEqual([
      { authority: site.authority, message: expect.stringContaining('answered CONNECT with 407') },
      { authority: site.authority, message: expect.stringContaining('refused the credentials (407)') },
    ]);
    expect(JSON.stringify(failures)).not.toContain('wrong');
  });

  it("refuses a session's upstream proxy on an internal address, but trusts the operator's", async () => {
    const fixture = await startHttpUpstreamProxy(CREDENTIALS);
    proxies.push(fixture);
    const setting = { server: fixture.server, ...CREDENTIALS };
    const tenant = await start({ upstream: upstream(setting, false) });
    expect(await tunnel(tenant.port, site.authority)).toEqual({ status: 502 });
    expect(await viaProxy(tenant.port, `http://${site.authority}/x`)).toEqual({ error: 'ECONNRESET' });
    expect(fixture.carried).toHaveLength(0);
    expect(tenant.failures[0].message).toBe('upstream proxy host 127.0.0.1 is refused (loopback)');

    const operator = await start({ upstream: upstream(setting, true) });
    expect(await tunnel(operator.port, site.authority)).toEqual({ status: 200, body: expect.any(String) });
    expect(fixture.carried).toHaveLength(1);
  });
});

describe('parseUpstreamProxy', () => {
  it('reads Playwright-shaped settings and credentials in the URL, and never shows the password', () => {
    expect(parseUpstreamProxy({ server: 'http://proxy.example:3128', username: 'u', password: 'p' }, false)).toMatchObject({
      protocol: 'http',
      target: { host: 'proxy.example', port: 3128 },
      username: 'u',
      password: 'p',
      display: 'http://proxy.example:3128',
    });
    const fromUrl = parseUpstreamProxy({ server: 'socks5://me:pa%40ss@10.0.0.1:1080' }, true);
    expect(fromUrl).toMatchObject({ protocol: 'socks5', username: 'me', password: 'pa@ss', display: 'socks5://10.0.0.1:1080' });
  });

  it.each([
    ['ftp://proxy.example:21', "server scheme 'ftp:' is not supported; use http, https or socks5"],
    ['http://proxy.example', 'server must name a port'],
    ['http://proxy.example:3128/path', 'server must be scheme://host:port only'],
    ['not a url', 'server must be a URL such as http://host:port, https://host:port or socks5://host:port'],
  ])('refuses %s', (server, problem) => {
    expect(parseUpstreamProxy({ server }, false)).toBe(problem);
  });
});
