import { BadGatewayException, BadRequestException, HttpException, HttpStatus, Injectable } from '@nestjs/common';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { AppConfig } from '../config/app-config';

/** Address ranges a render must not reach unless allow-listed: private, loopback, link-local
 * (cloud metadata lives at 169.254.169.254 / fd00:ec2::254), and other non-public space. */
const PRIVATE_V4 = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const;
const PRIVATE_V6 = [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const;

function privateRanges(): BlockList {
  const list = new BlockList();
  for (const [net, prefix] of PRIVATE_V4) list.addSubnet(net, prefix, 'ipv4');
  for (const [net, prefix] of PRIVATE_V6) list.addSubnet(net, prefix, 'ipv6');
  return list;
}

const refused = (message: string): HttpException => new HttpException(message, HttpStatus.UNPROCESSABLE_ENTITY);

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is judged as the IPv4 address it carries. */
function normalise(address: string): { address: string; family: 'ipv4' | 'ipv6' } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return { address: mapped[1], family: 'ipv4' };
  return { address, family: isIP(address) === 6 ? 'ipv6' : 'ipv4' };
}

export type Resolver = (hostname: string) => Promise<string[]>;

const systemResolver: Resolver = async (hostname) => (await lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

/**
 * The SSRF guard of DESIGN §5: only http(s), and never a private, loopback, link-local or
 * metadata address (judged after DNS resolution, on every address the name has) unless the
 * host or a range containing it is listed in RENDER_ALLOWED_HOSTS.
 */
@Injectable()
export class UrlPolicy {
  private readonly blocked = privateRanges();
  private readonly allowedRanges = new BlockList();
  private readonly allowedNames = new Set<string>();
  private resolver: Resolver = systemResolver;

  constructor(config: AppConfig) {
    for (const entry of config.render_allowed_hosts) this.allow(entry.toLowerCase());
  }

  /** For tests: resolve names without the system resolver. */
  useResolver(resolver: Resolver): void {
    this.resolver = resolver;
  }

  /** Throws 400 for a malformed URL, 422 for a refused one, 502 for a host that does not resolve. */
  async check(raw: string): Promise<URL> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new BadRequestException('url must be an absolute http or https URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw refused(`url scheme '${url.protocol}' is not allowed; use http or https`);
    }
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
    if (this.allowedNames.has(host)) return url;
    const addresses = isIP(host) ? [host] : await this.resolve(host);
    for (const address of addresses) {
      const { address: ip, family } = normalise(address);
      if (this.blocked.check(ip, family) && !this.allowedRanges.check(ip, family)) {
        throw refused(`url host '${host}' resolves to a non-public address (${ip}); it is not allow-listed`);
      }
    }
    return url;
  }

  private async resolve(host: string): Promise<string[]> {
    try {
      const addresses = await this.resolver(host);
      if (addresses.length === 0) throw new Error('no addresses');
      return addresses;
    } catch {
      // Not a refusal: the address is unknown, so the page cannot be fetched (as a browser would say).
      throw new BadGatewayException(`url host '${host}' does not resolve`);
    }
  }

  private allow(entry: string): void {
    const [net, prefix] = entry.split('/');
    const family = isIP(net);
    if (family === 0) {
      this.allowedNames.add(entry);
      return;
    }
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) this.allowedRanges.addAddress(net, type);
    else this.allowedRanges.addSubnet(net, Number(prefix), type);
  }
}
