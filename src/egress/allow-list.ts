import { Cidr, inCidr, IpBytes, parseCidr, parseIp } from './ip-address';

/**
 * RENDER_ALLOWED_HOSTS: names, addresses and CIDR ranges the egress policy lets through — the
 * only way around it. Entries are normalised like URL hosts (`0x7f.1` is
 * 127.0.0.1, `Example.COM` is example.com), so the list means what a URL would mean.
 */
export class AllowList {
  private constructor(
    private readonly names: ReadonlySet<string>,
    private readonly ranges: readonly Cidr[],
  ) {}

  static readonly EMPTY = new AllowList(new Set(), []);

  /** The list, or the first entry that is not a host name, an address or a CIDR range. */
  static parse(entries: readonly string[]): { list: AllowList } | { problem: string } {
    const names = new Set<string>();
    const ranges: Cidr[] = [];
    for (const raw of entries) {
      const entry = raw.trim().toLowerCase();
      const parsed = parseEntry(entry);
      if (typeof parsed === 'string') return { problem: `entry '${raw}': ${parsed}` };
      if ('name' in parsed) names.add(parsed.name);
      else ranges.push(parsed);
    }
    return { list: new AllowList(names, ranges) };
  }

  hasName(host: string): boolean {
    return this.names.has(host);
  }

  hasAddress = (address: IpBytes): boolean => this.ranges.some((range) => inCidr(address, range));
}

function parseEntry(entry: string): { name: string } | Cidr | string {
  if (entry.includes('/')) return parseCidr(entry.replace(/^\[([^\]]*)\]/, '$1'));
  let host: string;
  try {
    host = new URL(`http://${entry.includes(':') && !entry.startsWith('[') ? `[${entry}]` : entry}/`).hostname;
  } catch {
    return 'not a host name, IP address or CIDR range';
  }
  const address = parseIp(host);
  if (address) return { bytes: address, prefix: address.length * 8 };
  return { name: host.replace(/\.$/, '') };
}
