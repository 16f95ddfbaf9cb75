/**
 * A session's upstream proxy (DESIGN §2) end to end: its renders leave through it (with its
 * credentials), other sessions' renders do not touch it, the password is never shown, and a
 * tenant cannot name an internal host as its proxy. Real Chromium, embedded renderer; the
 * site is on 127.0.0.2 and the proxy on 127.0.0.3, both allow-listed; 127.0.0.1 is not.
 */
import { startSite, Site } from './fixtures/site';
import { startHttpUpstreamProxy, UpstreamProxyFixture } from './fixtures/upstream-proxy';
import { bootApp, BootedApp } from './support/app';

jest.setTimeout(60_000);

describe('session upstream proxy', () => {
  const credentials = { username: 'acme', password: 'secret-proxy-pa55' };
  let site: Site;
  let upstream: UpstreamProxyFixture;
  let api: BootedApp;
  const pagesCarried = (): string[] => upstream.carried.filter((c) => c.endsWith('/static'));

  beforeAll(async () => {
    site = await startSite('127.0.0.2');
    upstream = await startHttpUpstreamProxy(credentials, '127.0.0.3');
    api = await bootApp({ headless_port: 0, render_allowed_hosts: ['127.0.0.2', '127.0.0.3'] });
  });

  afterAll(async () => {
    await api?.close();
    await upstream?.close();
    await site?.close();
  });

  it('renders a session with a proxy through it, and one without not at all; the password is never shown', async () => {
    const created = await api.inject({
      method: 'POST',
      url: '/v1/sessions',
      payload: { session_id: 'proxied', proxy: { server: upstream.server, ...credentials } },
    });
    expect(created.status).toBe(201);
    expect(created.body.config.proxy).toEqual({ server: upstream.server, username: 'acme' });
    expect(created.text).not.toContain(credentials.password);

    const via = await api.inject({ method: 'POST', url: '/v1/render', payload: { url: site.url('/static'), session_id: 'proxied' } });
    expect(via.status).toBe(200);
    expect(via.text).not.toContain(credentials.password);
    expect(pagesCarried()).toEqual([`GET ${site.url('/static')}`]);
    expect(upstream.refusedAuth).toBe(0);

    const direct = await api.inject({ method: 'POST', url: '/v1/render', payload: { url: site.url('/static'), session_id: 'plain' } });
    expect(direct.status).toBe(200);
    expect(pagesCarried()).toHaveLength(1);

    const listed = await api.inject('/v1/sessions');
    expect(listed.text).not.toContain(credentials.password);
  });

  it.each([
    ['POST', '/v1/sessions', { session_id: 'inside' }],
    ['PUT', '/v1/sessions/inside-put', {}],
  ])('%s %s with a proxy on a loopback host is 422 naming it, and nothing is created', async (method, url, body) => {
    const res = await api.inject({
      method: method as 'POST',
      url,
      payload: { ...body, proxy: { server: 'http://127.0.0.1:3128' } },
    });
    expect(res.status).toBe(422);
    expect(res.body.message).toBe("proxy host '127.0.0.1' is refused by the egress policy (loopback); it is not allow-listed");
    for (const id of ['inside', 'inside-put']) expect((await api.inject(`/v1/sessions/${id}`)).status).toBe(404);
  });

  it('PATCH to an internal proxy is 422 and keeps the old one', async () => {
    await api.inject({ method: 'POST', url: '/v1/sessions', payload: { session_id: 'patched', proxy: { server: upstream.server } } });
    const res = await api.inject({ method: 'PATCH', url: '/v1/sessions/patched', payload: { proxy: { server: 'http://[::1]:8080' } } });
    expect(res.status).toBe(422);
    expect((await api.inject('/v1/sessions/patched')).body.config.proxy).toEqual({ server: upstream.server });
  });
});
