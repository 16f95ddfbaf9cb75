import { isIPv4, isIPv6 } from 'node:net';

/** An IP address as its network-order bytes: 4 for IPv4, 16 for IPv6. */
export type IpBytes = Uint8Array;

/**
 * Parses the canonical textual forms (dotted quad, RFC 4291 IPv6 with `::` and an optional
 * dotted-quad tail). Anything else is null: odd numeric forms such as `2130706433` or
 * `0x7f.1` are the URL parser's business (see egress-target.ts), never guessed here.
 */
export function parseIp(text: string): IpBytes | null {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (isIPv4(bare)) return Uint8Array.from(bare.split('.').map(Number));
  if (isIPv6(bare) && !bare.includes('%')) return parseIpv6(bare);
  return null;
}

function parseIpv6(text: string): IpBytes {
  // A dotted-quad tail (::ffff:127.0.0.1) is two more 16-bit groups.
  const hex = text.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a, b, c, d) =>
    `${((+a << 8) | +b).toString(16)}:${((+c << 8) | +d).toString(16)}`,
  );
  const groups = (part: string): number[] => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const [left, right] = hex.split('::');
  const words =
    right === undefined
      ? groups(left)
      : [...groups(left), ...new Array<number>(8 - groups(left).length - groups(right).length).fill(0), ...groups(right)];
  const bytes = new Uint8Array(16);
  words.forEach((word, i) => {
    bytes[i * 2] = word >> 8;
    bytes[i * 2 + 1] = word & 0xff;
  });
  return bytes;
}

export function formatIp(bytes: IpBytes): string {
  if (bytes.length === 4) return bytes.join('.');
  const words = Array.from({ length: 8 }, (_, i) => ((bytes[i * 2] << 8) | bytes[i * 2 + 1]).toString(16));
  // Canonical enough for messages: compress the first longest run of zero words (RFC 5952 style).
  let best = { start: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (words[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === '0') j++;
    if (j - i > best.len && j - i > 1) best = { start: i, len: j - i };
    i = j;
  }
  if (best.start < 0) return words.join(':');
  return `${words.slice(0, best.start).join(':')}::${words.slice(best.start + best.len).join(':')}`;
}

/** A network: address bytes plus prefix length. */
export interface Cidr {
  bytes: IpBytes;
  prefix: number;
}

export function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (typeof parsed === 'string') throw new Error(`bad built-in range ${text}: ${parsed}`);
  return parsed;
}

/** `a.b.c.d/n`, `v6/n` or a single address (a full-length prefix); a string says what is wrong. */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const bytes = parseIp(address);
  if (!bytes) return `'${address}' is not an IP address`;
  const max = bytes.length * 8;
  if (slash < 0) return { bytes, prefix: max };
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return `prefix '/${prefixText}' must be 0-${max}`;
  return { bytes, prefix: Number(prefixText) };
}

export function inCidr(bytes: IpBytes, range: Cidr): boolean {
  if (bytes.length !== range.bytes.length) return false;
  let bits = range.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i] & mask) !== (range.bytes[i] & mask)) return false;
  }
  return true;
}
