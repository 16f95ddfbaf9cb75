import { DnsResponder, startDnsResponder } from '../../test/fixtures/dns-responder';
import { createHostResolver, dnsServerProblem } from './host-resolver';

describe('createHostResolver with RENDER_DNS_SERVERS', () => {
  let dns: DnsResponder;

  beforeAll(async () => {
    dns = await startDnsResponder((name) => {
      if (name === 'both.test') return ['93.184.216.34', '2606:2800:220:1::1'];
      if (name === 'v6only.test') return ['2606:2800:220:1::1'];
      if (name === 'hang.test') return undefined;
      return [];
    });
  });
  afterAll(() => dns.close());

  it('asks for A and AAAA and returns every address', async () => {
    const resolve = createHostResolver([dns.server]);
    expect(await resolve('both.test')).toEqual({ ok: true, addresses: ['93.184.216.34', '2606:2800:220:1::1'], ttlSeconds: 0 });
    expect(await resolve('v6only.test')).toEqual({ ok: true, addresses: ['2606:2800:220:1::1'], ttlSeconds: 0 });
    expect(dns.queries).toEqual(expect.arrayContaining(['A both.test', 'AAAA both.test']));
  });

  it("gives the records' least TTL, so that an answer can be kept as long as DNS says", async () => {
    const timed = await startDnsResponder(() => ['93.184.216.34'], '127.0.0.3', 45);
    try {
      expect(await createHostResolver([timed.server])('timed.test')).toEqual({ ok: true, addresses: ['93.184.216.34'], ttlSeconds: 45 });
    } finally {
      await timed.close();
    }
  });

  it('reports a name without addresses as unresolved', async () => {
    expect(await createHostResolver([dns.server])('nothing.test')).toMatchObject({ ok: false });
  });

  it('gives up on a resolver that never answers within its timeout', async () => {
    const started = Date.now();
    const outcome = await createHostResolver([dns.server], 400)('hang.test');
    expect(outcome).toMatchObject({ ok: false, error: 'ETIMEOUT' });
    expect(Date.now() - started).toBeLessThan(1500);
  });
});

describe('dnsServerProblem', () => {
  it.each(['1.1.1.1', '1.1.1.1:53', '::1', '[::1]:5353', '2001:4860:4860::8888'])('accepts %s', (entry) => {
    expect(dnsServerProblem(entry)).toBeNull();
  });
  it.each(['dns.google', '1.1.1.1:99999', '1.1.1', '[::1]x', ''])('refuses %s', (entry) => {
    expect(dnsServerProblem(entry)).toEqual(expect.stringContaining('entry'));
  });
});
