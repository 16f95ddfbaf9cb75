import { refusalOf } from './address-ranges';
import { parseIp } from './ip-address';

const judge = (address: string, allowed: string[] = []): string | null => {
  const bytes = parseIp(address);
  if (!bytes) throw new Error(`test address ${address} does not parse`);
  const allow = allowed.map((a) => parseIp(a)!.join('.'));
  return refusalOf(bytes, (b) => allow.includes(b.join('.')));
};

describe('refusalOf (no connection is ever made: addresses are only classified)', () => {
  it.each([
    // IPv4
    ['169.254.169.254', 'metadata'],
    ['169.254.170.2', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['168.63.129.16', 'metadata'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.5', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.1.1', 'link-local'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.254', 'cgnat'],
    ['0.0.0.0', 'reserved'],
    ['0.1.2.3', 'reserved'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['198.51.100.7', 'reserved'],
    ['203.0.113.9', 'reserved'],
    ['192.88.99.1', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    // IPv6
    ['::', 'reserved'],
    ['::1', 'loopback'],
    ['fd00:ec2::254', 'metadata'],
    ['fd20:ce::254', 'metadata'],
    ['fc00::1', 'unique-local'],
    ['fdff:ffff::1', 'unique-local'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['fec0::1', 'site-local'],
    ['ff02::1', 'multicast'],
    ['ff0e::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['100::1', 'reserved'],
    ['3fff::1', 'reserved'],
    ['4000::1', 'reserved'], // outside 2000::/3: not global unicast
    // IPv6 forms that carry an IPv4 address are judged by that address
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:a9fe:a9fe', 'metadata'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:0:7f00:1', 'loopback'], // IPv4-translated
    ['::127.0.0.1', 'loopback'], // IPv4-compatible
    ['::7f00:1', 'loopback'],
    ['::8.8.8.8', 'reserved'], // IPv4-compatible, even when public: a deprecated form
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['64:ff9b:1::7f00:1', 'loopback'], // local-use NAT64, /96 layout
    ['64:ff9b:1:7f00:0:100::', 'loopback'], // local-use NAT64, /48 layout (RFC 6052)
    ['2002:7f00:1::', 'loopback'], // 6to4
    ['2002:a9fe:a9fe::1', 'metadata'],
    ['2002:c0a8:101::', 'private'],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'loopback'], // Teredo, client 127.0.0.1 (inverted)
    ['2001:0:7f00:1::1', 'loopback'], // Teredo, server 127.0.0.1
  ])('refuses %s as %s', (address, reason) => {
    expect(judge(address)).toBe(reason);
  });

  it.each([
    '93.184.216.34',
    '8.8.8.8',
    '1.1.1.1',
    '100.63.255.255', // just below CGNAT
    '100.128.0.0', // just above
    '172.15.255.255',
    '172.32.0.0',
    '169.253.255.255',
    '2606:4700::1111',
    '2a00:1450:4001:82a::200e',
    '::ffff:93.184.216.34',
    '64:ff9b::8.8.8.8',
    '2002:808:808::1',
  ])('lets public %s through', (address) => {
    expect(judge(address)).toBeNull();
  });

  it('lets allow-listed addresses through, also in the IPv6 forms that carry them', () => {
    expect(judge('127.0.0.2', ['127.0.0.2'])).toBeNull();
    expect(judge('::ffff:127.0.0.2', ['127.0.0.2'])).toBeNull();
    expect(judge('64:ff9b::7f00:2', ['127.0.0.2'])).toBeNull();
    expect(judge('127.0.0.1', ['127.0.0.2'])).toBe('loopback');
    expect(judge('::ffff:127.0.0.1', ['127.0.0.2'])).toBe('loopback');
  });
});
