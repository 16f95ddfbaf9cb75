import { cidr, Cidr, inCidr, IpBytes } from './ip-address';

/** Why an address is refused; `scheme` is for URLs that are not http(s) at all. */
export type AddressReason =
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'metadata'
  | 'cgnat'
  | 'unique-local'
  | 'site-local'
  | 'multicast'
  | 'reserved';

type Table = ReadonlyArray<readonly [Cidr, AddressReason]>;
const table = (rows: ReadonlyArray<readonly [string, AddressReason]>): Table => rows.map(([net, reason]) => [cidr(net), reason]);

/**
 * First match wins, so the cloud metadata endpoints come before the ranges that contain them.
 * Every range here is one a render has no business reaching: the host itself, its networks,
 * the cloud's per-host services, and space that is not publicly routed at all.
 */
const IPV4: Table = table([
  ['169.254.169.254/32', 'metadata'], // AWS, GCP, Azure, OpenStack, Oracle instance metadata
  ['169.254.170.2/32', 'metadata'], // AWS ECS task credentials
  ['100.100.100.200/32', 'metadata'], // Alibaba Cloud
  ['168.63.129.16/32', 'metadata'], // Azure wire server (a public address used host-locally)
  ['0.0.0.0/8', 'reserved'], // "this network"; 0.0.0.0 reaches the local host on Linux
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'cgnat'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'reserved'], // IETF protocol assignments
  ['192.0.2.0/24', 'reserved'], // documentation
  ['192.88.99.0/24', 'reserved'], // 6to4 relay anycast
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'reserved'], // benchmarking
  ['198.51.100.0/24', 'reserved'], // documentation
  ['203.0.113.0/24', 'reserved'], // documentation
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'], // future use, and 255.255.255.255 broadcast
]);

const IPV6: Table = table([
  ['::/128', 'reserved'], // unspecified; reaches the local host like 0.0.0.0
  ['::1/128', 'loopback'],
  ['fd00:ec2::254/128', 'metadata'], // AWS instance metadata over IPv6
  ['fd20:ce::254/128', 'metadata'], // GCP metadata over IPv6
  ['100::/64', 'reserved'], // discard-only
  ['2001:2::/48', 'reserved'], // benchmarking
  ['2001:10::/28', 'reserved'], // ORCHID
  ['2001:20::/28', 'reserved'], // ORCHIDv2
  ['2001:db8::/32', 'reserved'], // documentation
  ['3fff::/20', 'reserved'], // documentation
  ['fc00::/7', 'unique-local'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
]);

/** Only 2000::/3 is globally routed unicast; the special forms above and below are carved out first. */
const GLOBAL_UNICAST = cidr('2000::/3');

const v4At = (bytes: IpBytes, ...offsets: number[]): IpBytes => Uint8Array.from(offsets, (i) => bytes[i]);
const last32 = (bytes: IpBytes): IpBytes => bytes.slice(12, 16);

const bothLayouts = (a: IpBytes, b: IpBytes): IpBytes[] => {
  const used = [a, b].filter((v4) => v4.some((x) => x !== 0));
  return used.length > 0 ? used : [a];
};

interface Embedding {
  range: Cidr;
  /** The IPv4 addresses this form leads to; each is judged as if it had been given. */
  carried: (bytes: IpBytes) => IpBytes[];
  /** What a form that carries only public addresses is, when it is not usable as such. */
  otherwise?: AddressReason;
}

/**
 * IPv6 forms that stand for an IPv4 address: the host, a translator or a tunnel relay would
 * deliver the connection to that IPv4 address, so that is the address judged.
 */
const EMBEDDINGS: Embedding[] = [
  { range: cidr('::ffff:0:0/96'), carried: (b) => [last32(b)] }, // IPv4-mapped
  { range: cidr('::ffff:0:0:0/96'), carried: (b) => [last32(b)] }, // IPv4-translated (SIIT)
  // IPv4-compatible (deprecated): nothing legitimate uses it, but ::127.0.0.1 still names loopback.
  { range: cidr('::/96'), carried: (b) => [last32(b)], otherwise: 'reserved' },
  { range: cidr('64:ff9b::/96'), carried: (b) => [last32(b)] }, // NAT64 well-known prefix
  // Local-use NAT64 (RFC 8215): the operator picks the prefix length, so judge both usual places
  // (the /96 layout and RFC 6052's /48 one); the place that is all zeros carries nothing.
  { range: cidr('64:ff9b:1::/48'), carried: (b) => bothLayouts(last32(b), v4At(b, 6, 7, 9, 10)) },
  { range: cidr('2002::/16'), carried: (b) => [v4At(b, 2, 3, 4, 5)] }, // 6to4
  // Teredo: the server at bits 32-63, the client obfuscated (inverted) in the last 32 bits.
  { range: cidr('2001::/32'), carried: (b) => [v4At(b, 4, 5, 6, 7), last32(b).map((x) => ~x & 0xff)] },
];

const lookup = (bytes: IpBytes, rows: Table): AddressReason | null => rows.find(([range]) => inCidr(bytes, range))?.[1] ?? null;

/**
 * Why `address` must not be reached, or null when it is public. `allowed` (RENDER_ALLOWED_HOSTS)
 * is asked first, for the address and for every IPv4 address an IPv6 form carries.
 */
export function refusalOf(address: IpBytes, allowed: (address: IpBytes) => boolean = () => false): AddressReason | null {
  if (allowed(address)) return null;
  if (address.length === 4) return lookup(address, IPV4);
  const special = lookup(address, IPV6);
  if (special) return special;
  const embedding = EMBEDDINGS.find((e) => inCidr(address, e.range));
  if (embedding) {
    for (const v4 of embedding.carried(address)) {
      const reason = refusalOf(v4, allowed);
      if (reason) return reason;
    }
    return embedding.otherwise ?? null;
  }
  return inCidr(address, GLOBAL_UNICAST) ? null : 'reserved';
}
