import { AllowList } from './allow-list';
import { EgressPolicy, EgressVerdict } from './egress-policy';
import { HostResolver } from './host-resolver';

const DNS: Record<string, string[]> = {
  'public.test': ['93.184.216.34', '2606:2800:220:1::1'],
  'localhost.test': ['127.0.0.1'],
  'metadata.test': ['169.254.169.254'],
  'mixed.test': ['93.184.216.34', '10.1.2.3'],
  'v6mixed.test': ['2606:2800:220:1::1', 'fd00::1'],
  'site.test': ['127.0.0.2'],
  'mapped.test': ['::ffff:192.168.1.1'],
};
const fakeDns: HostResolver = async (host) => (DNS[host] ? { ok: true, addresses: DNS[host] } : { ok: false, error: 'ENOTFOUND' });

function policy(allowed: string[] = []): EgressPolicy {
  const parsed = AllowList.parse(allowed);
  if ('problem' in parsed) throw new Error(parsed.problem);
  return new EgressPolicy(parsed.list, fakeDns);
}

const check = (url: string, allowed: string[] = []): Promise<EgressVerdict> => policy(allowed).checkUrl(new URL(url));

describe('EgressPolicy.checkUrl (resolution faked, nothing is connected to)', () => {
  it.each([
    ['file:///etc/passwd', 'scheme'],
    ['ftp://public.test/', 'scheme'],
    ['javascript:alert(1)', 'scheme'],
    ['data:text/html,hi', 'scheme'],
    // Was an e2e render of the metadata address: the policy alone decides it, no connection needed.
    ['http://169.254.169.254/latest/meta-data/', 'metadata'],
    ['http://[fd00:ec2::254]/latest/meta-data/', 'metadata'],
    ['http://metadata.test/', 'metadata'],
    ['http://127.0.0.1:3000/', 'loopback'],
    ['http://localhost.test/', 'loopback'],
    ['http://[::1]/', 'loopback'],
    ['http://[::ffff:127.0.0.1]/', 'loopback'],
    ['http://[::ffff:7f00:1]/', 'loopback'],
    ['http://[::127.0.0.1]/', 'loopback'],
    ['http://[64:ff9b::127.0.0.1]/', 'loopback'],
    ['http://[2002:7f00:1::]/', 'loopback'],
    // Numeric forms the URL parser normalises exactly as the browser does.
    ['http://2130706433/', 'loopback'],
    ['http://0x7f.1/', 'loopback'],
    ['http://0177.0.0.1/', 'loopback'],
    ['http://127.1/', 'loopback'],
    ['http://0.0.0.0/', 'reserved'],
    ['http://0/', 'reserved'],
    ['http://2852039166/', 'metadata'], // 169.254.169.254
    ['http://10.0.0.5/', 'private'],
    ['http://192.168.0.1/', 'private'],
    ['http://100.64.1.1/', 'cgnat'],
    ['http://169.254.10.10/', 'link-local'],
    ['http://[fe80::1]/', 'link-local'],
    ['http://[fc00::1]/', 'unique-local'],
    ['http://[fec0::1]/', 'site-local'],
    ['http://224.0.0.1/', 'multicast'],
    ['http://[ff02::1]/', 'multicast'],
    ['http://240.0.0.1/', 'reserved'],
    ['http://mapped.test/', 'private'],
    // One refused address refuses the name, whichever family it is in.
    ['http://mixed.test/', 'private'],
    ['http://v6mixed.test/', 'unique-local'],
  ])('refuses %s (%s)', async (url, reason) => {
    expect(await check(url)).toMatchObject({ outcome: 'refused', reason });
  });

  it('names the host and the address it refused', async () => {
    expect(await check('http://mixed.test:8080/x')).toMatchObject({
      target: { host: 'mixed.test', port: 8080 },
      address: '10.1.2.3',
    });
    expect(await check('http://[::ffff:127.0.0.1]/')).toMatchObject({ target: { host: '::ffff:7f00:1', port: 80 }, address: '::ffff:7f00:1' });
  });

  it('allows public hosts and returns the addresses it checked, for the connection to use', async () => {
    expect(await check('https://public.test/path?q=1')).toEqual({
      outcome: 'allowed',
      target: expect.objectContaining({ host: 'public.test', port: 443 }),
      addresses: ['93.184.216.34', '2606:2800:220:1::1'],
    });
    expect(await check('http://93.184.216.34/')).toMatchObject({ outcome: 'allowed', addresses: ['93.184.216.34'] });
  });

  it('reports an unknown name as unresolved, not refused', async () => {
    expect(await check('http://nxdomain.test/')).toMatchObject({ outcome: 'unresolved', error: 'ENOTFOUND' });
  });

  it('lets through only what RENDER_ALLOWED_HOSTS lists: names, addresses and ranges', async () => {
    const allowed = ['127.0.0.2', 'Metadata.Test', '10.0.0.0/8', 'fd00::/8'];
    expect(await check('http://127.0.0.2:8080/', allowed)).toMatchObject({ outcome: 'allowed' });
    expect(await check('http://site.test/', allowed)).toMatchObject({ outcome: 'allowed', addresses: ['127.0.0.2'] });
    expect(await check('http://metadata.test/', allowed)).toMatchObject({ outcome: 'allowed' });
    expect(await check('http://10.9.9.9/', allowed)).toMatchObject({ outcome: 'allowed' });
    expect(await check('http://v6mixed.test/', allowed)).toMatchObject({ outcome: 'allowed' });
    expect(await check('http://127.0.0.1/', allowed)).toMatchObject({ outcome: 'refused', reason: 'loopback' });
    expect(await check('http://localhost.test/', allowed)).toMatchObject({ outcome: 'refused', reason: 'loopback' });
    expect(await check('http://169.254.169.254/', allowed)).toMatchObject({ outcome: 'refused', reason: 'metadata' });
    expect(await check('file:///etc/passwd', allowed)).toMatchObject({ outcome: 'refused', reason: 'scheme' });
  });
});

describe('AllowList.parse', () => {
  it.each(['127.0.0.2', '10.0.0.0/8', 'fd00::/8', '[::1]', '::1', 'example.com', 'Example.COM.', '0x7f.2', '192.168.0.0/16'])(
    'accepts %s',
    (entry) => expect(AllowList.parse([entry])).toHaveProperty('list'),
  );

  it.each([
    ['10.0.0.0/33', "entry '10.0.0.0/33': prefix '/33' must be 0-32"],
    ['fd00::/129', "entry 'fd00::/129': prefix '/129' must be 0-128"],
    ['10.0.0.0/8x', "entry '10.0.0.0/8x': prefix '/8x' must be 0-32"],
    ['300.1.1.1/8', "entry '300.1.1.1/8': '300.1.1.1' is not an IP address"],
    ['300.1.1.1', "entry '300.1.1.1': not a host name, IP address or CIDR range"],
    ['bad host', "entry 'bad host': not a host name, IP address or CIDR range"],
  ])('refuses %s with one line', (entry, problem) => {
    expect(AllowList.parse(['127.0.0.2', entry])).toEqual({ problem });
  });

  it('normalises entries like URL hosts', async () => {
    expect(await check('http://127.0.0.2/', ['0x7f.2'])).toMatchObject({ outcome: 'allowed' });
    expect(await check('http://LocalHost.TEST./', ['localhost.test'])).toMatchObject({ outcome: 'allowed' });
    expect(await check('http://localhost.test/', ['LOCALHOST.test.'])).toMatchObject({ outcome: 'allowed' });
  });
});
