import { HttpException } from '@nestjs/common';
import { DnsResponder, startDnsResponder } from '../../test/fixtures/dns-responder';
import { FakeClock } from '../common/clock';
import { loadConfig } from '../config/app-config';
import { UrlPolicy } from './url-policy';

/**
 * The API's mapping of the egress policy's verdicts onto HTTP answers. The ranges and forms the
 * policy refuses are proven in src/egress (no connection is made there, nor here: names are
 * answered by a local DNS responder, addresses only classified).
 */
describe('UrlPolicy', () => {
  let dns: DnsResponder;

  beforeAll(async () => {
    dns = await startDnsResponder((name, type) =>
      type === 'AAAA' ? [] : ({ 'public.test': ['93.184.216.34'], 'metadata.test': ['169.254.169.254'] } as Record<string, string[]>)[name] ?? [],
    );
  });
  afterAll(() => dns.close());

  const policy = (allowed: string[] = []): UrlPolicy =>
    new UrlPolicy(loadConfig({ env: {}, overrides: { render_allowed_hosts: allowed, render_dns_servers: [dns.server] } }), new FakeClock());

  async function outcome(promise: Promise<unknown>): Promise<{ status: number; message?: string }> {
    try {
      await promise;
      return { status: 200 };
    } catch (err) {
      return { status: (err as HttpException).getStatus(), message: (err as HttpException).message };
    }
  }

  it.each([
    ['http://169.254.169.254/latest/meta-data/', "url host '169.254.169.254' is refused by the egress policy (metadata: 169.254.169.254)"],
    ['http://metadata.test/', "url host 'metadata.test' is refused by the egress policy (metadata: 169.254.169.254)"],
    ['http://[::ffff:127.0.0.1]:3000/', "url host '[::ffff:7f00:1]' is refused by the egress policy (loopback: ::ffff:7f00:1)"],
    ['http://2130706433/', "url host '127.0.0.1' is refused by the egress policy (loopback: 127.0.0.1)"],
    ['file:///etc/passwd', "url scheme 'file:' is not allowed; use http or https"],
  ])('answers 422 for %s, naming the host and why', async (url, message) => {
    expect(await outcome(policy().check(url))).toEqual({ status: 422, message: expect.stringContaining(message) });
  });

  it('answers 502 for a host that does not resolve, 400 for something that is not a URL', async () => {
    expect(await outcome(policy().check('http://nxdomain.test/'))).toMatchObject({ status: 502, message: "url host 'nxdomain.test' does not resolve" });
    expect(await outcome(policy().check('not a url'))).toMatchObject({ status: 400 });
  });

  it('lets public and allow-listed hosts through', async () => {
    await expect(policy().check('https://public.test/path?q=1')).resolves.toBeInstanceOf(URL);
    await expect(policy(['metadata.test', '127.0.0.2']).check('http://metadata.test/')).resolves.toBeInstanceOf(URL);
    await expect(policy(['127.0.0.2']).check('http://127.0.0.2:8080/')).resolves.toBeInstanceOf(URL);
  });

  it('keeps a name\'s answer for its TTL: a render of that host waits for no lookup in the API', async () => {
    const timed = await startDnsResponder((_, type) => (type === 'A' ? ['93.184.216.34'] : []), '127.0.0.3', 30);
    try {
      const clock = new FakeClock();
      const kept = new UrlPolicy(loadConfig({ env: {}, overrides: { render_dns_servers: [timed.server] } }), clock);
      const asked = () => timed.queries.filter((q) => q.endsWith(' kept.test')).length;
      await kept.check('https://kept.test/one');
      await kept.check('https://kept.test/two');
      expect(asked()).toBe(2); // A and AAAA, once
      clock.advance(30_000);
      await kept.check('https://kept.test/three');
      expect(asked()).toBe(4);
    } finally {
      await timed.close();
    }
  });
});
