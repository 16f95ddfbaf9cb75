import { EgressIdentity } from './egress-identity';
import { EgressPolicy } from './egress-policy';
import { authorityOf } from './egress-target';
import { createHostResolver, HostResolver } from './host-resolver';
import { ConnectFailure } from './proxy/egress-proxy';
import { parseUpstreamProxy, ProxySetting, UpstreamProxy } from './upstream-proxy';

export interface RendererEgressSettings {
  allowedHosts: readonly string[];
  dnsServers: readonly string[];
  /** RENDER_UPSTREAM_PROXY, '' for none. */
  upstreamProxy: string;
}

export interface EgressLogger {
  debug(message: string): void;
  warn(message: string): void;
}

export type SessionProxyOutcome =
  | { ok: true; upstream: UpstreamProxy }
  /** `invalid`: the setting is malformed; `refused`: its host is one the policy refuses. */
  | { ok: false; problem: 'invalid' | 'refused'; message: string };

/**
 * The renderer's egress layer: the policy (shared with the API's early check), the operator's
 * upstream proxy, and a proxy identity per browser context.
 */
export class RendererEgress {
  readonly policy: EgressPolicy;
  private readonly resolve: HostResolver;
  private readonly defaultUpstream: UpstreamProxy | null;

  constructor(
    settings: RendererEgressSettings,
    private readonly logger: EgressLogger,
  ) {
    // No answer cache here: this is the fence, and it resolves afresh for every connection.
    this.resolve = createHostResolver(settings.dnsServers);
    this.policy = EgressPolicy.fromSettings(settings.allowedHosts, this.resolve);
    const upstream = settings.upstreamProxy ? parseUpstreamProxy({ server: settings.upstreamProxy }, true) : null;
    // The config validator has already refused a malformed one; this is belt and braces.
    if (typeof upstream === 'string') throw new Error(`render_upstream_proxy: ${upstream}`);
    this.defaultUpstream = upstream;
  }

  /**
   * A proxy listener of its own for one browser context (or, with `label` 'browser', for the
   * launch-level default that catches anything not in a context of ours).
   */
  openIdentity(label: string): Promise<EgressIdentity> {
    return EgressIdentity.open({
      policy: this.policy,
      resolve: this.resolve,
      defaultUpstream: this.defaultUpstream,
      onUnattributed: (url, reason) => this.logger.debug(`egress refused ${url} (${reason}) outside any render [${label}]`),
      onFailure: (failure: ConnectFailure) => this.logger.debug(`egress connection to ${failure.authority} failed: ${failure.message}`),
    });
  }

  /**
   * A render's own upstream proxy (its session's `proxy`): well-formed, and on a host the policy
   * allows — a tenant must not name an internal host as its proxy. The password is in no message.
   */
  async sessionProxy(setting: ProxySetting): Promise<SessionProxyOutcome> {
    const upstream = parseUpstreamProxy(setting, false);
    if (typeof upstream === 'string') return { ok: false, problem: 'invalid', message: `proxy.${upstream}` };
    const verdict = await this.policy.checkTarget(upstream.target);
    if (verdict.outcome === 'allowed') return { ok: true, upstream };
    const why = verdict.outcome === 'refused' ? `is refused by the egress policy (${verdict.reason})` : `does not resolve (${verdict.error})`;
    return { ok: false, problem: 'refused', message: `proxy host '${authorityOf(upstream.target)}' ${why}` };
  }
}
