import { AddressReason, refusalOf } from './address-ranges';
import { AllowList } from './allow-list';
import { EgressTarget, targetOfUrl } from './egress-target';
import type { HostResolver } from './host-resolver';
import { formatIp, parseIp } from './ip-address';

/** Why the policy refused: an address range, or a URL scheme other than http(s). */
export type EgressReason = AddressReason | 'scheme';

export type EgressVerdict =
  /** `addresses` are the checked addresses: connect to these, never resolve the name again. */
  | { outcome: 'allowed'; target: EgressTarget; addresses: string[] }
  | { outcome: 'refused'; target: EgressTarget; reason: EgressReason; address: string | null }
  /** The name has no address (or the resolver failed): not a refusal, the host is just unknown. */
  | { outcome: 'unresolved'; target: EgressTarget; error: string };

const WEB_SCHEMES = new Set(['http:', 'https:']);

/**
 * DESIGN §5's egress policy, one implementation for the API's early check of the URL a client
 * sent and for the renderer's forward proxy, which checks every connection the browser opens.
 * A name is resolved (A and AAAA) and refused when any of its addresses is; an allowed verdict
 * carries the addresses it checked, so that the caller connects to exactly those.
 */
export class EgressPolicy {
  constructor(
    private readonly allowList: AllowList,
    private readonly resolve: HostResolver,
  ) {}

  /**
   * From RENDER_ALLOWED_HOSTS (already validated by the config) and a resolver for
   * RENDER_DNS_SERVERS (egress/host-resolver.ts).
   */
  static fromSettings(allowedHosts: readonly string[], resolve: HostResolver): EgressPolicy {
    const parsed = AllowList.parse(allowedHosts);
    if ('problem' in parsed) throw new Error(`render_allowed_hosts: ${parsed.problem}`);
    return new EgressPolicy(parsed.list, resolve);
  }

  async checkUrl(url: URL): Promise<EgressVerdict> {
    const target = targetOfUrl(url);
    if (!WEB_SCHEMES.has(url.protocol)) return { outcome: 'refused', target, reason: 'scheme', address: null };
    return this.checkTarget(target);
  }

  async checkTarget(target: EgressTarget): Promise<EgressVerdict> {
    const named = this.allowList.hasName(target.host);
    if (target.literal) {
      const reason = named ? null : refusalOf(target.literal, this.allowList.hasAddress);
      return reason
        ? { outcome: 'refused', target, reason, address: formatIp(target.literal) }
        : { outcome: 'allowed', target, addresses: [target.host] };
    }
    const resolved = await this.resolve(target.host);
    if (!resolved.ok) return { outcome: 'unresolved', target, error: resolved.error };
    for (const address of resolved.addresses) {
      const bytes = parseIp(address);
      // An answer that is not an address at all is refused as reserved rather than trusted.
      const reason = named ? null : bytes ? refusalOf(bytes, this.allowList.hasAddress) : 'reserved';
      if (reason) return { outcome: 'refused', target, reason, address };
    }
    return { outcome: 'allowed', target, addresses: resolved.addresses };
  }
}
