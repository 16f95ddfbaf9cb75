import { EgressPolicy } from './egress-policy';
import { HostResolver } from './host-resolver';
import { ConnectFailure, EgressProxy } from './proxy/egress-proxy';
import { EgressLog } from './egress-log';
import type { UpstreamProxy } from './upstream-proxy';

export interface EgressIdentityOptions {
  policy: EgressPolicy;
  resolve: HostResolver;
  /** RENDER_UPSTREAM_PROXY: used whenever the render in progress names no proxy of its own. */
  defaultUpstream: UpstreamProxy | null;
  /** Refusals no render is listening for (between renders, or the browser-wide listener). */
  onUnattributed?: (url: string, reason: string) => void;
  onFailure?: (failure: ConnectFailure) => void;
}

/**
 * The egress proxy of one browser context: its own listener, so that what the proxy refuses is
 * attributed to that context's render and its traffic chains to that render's upstream proxy.
 */
export class EgressIdentity {
  private readonly logs = new Set<EgressLog>();
  private upstream: UpstreamProxy | null = null;

  private constructor(
    private readonly proxy: EgressProxy,
    /** `http://127.0.0.1:<port>`: the proxy server to give the browser context. */
    readonly server: string,
  ) {}

  static async open(options: EgressIdentityOptions): Promise<EgressIdentity> {
    let identity: EgressIdentity | undefined;
    const proxy = new EgressProxy({
      policy: options.policy,
      resolve: options.resolve,
      upstream: () => identity?.upstream ?? options.defaultUpstream,
      onRefused: (refusal) => {
        if (!identity || identity.logs.size === 0) return options.onUnattributed?.(refusal.url, refusal.reason);
        for (const log of identity.logs) log.add(refusal);
      },
      onFailure: (failure) => {
        for (const log of identity?.logs ?? []) log.failed(failure);
        options.onFailure?.(failure);
      },
    });
    identity = new EgressIdentity(proxy, await proxy.listen());
    return identity;
  }

  /** Chains this context's traffic through `upstream` (the render's session proxy), or the default when null. */
  route(upstream: UpstreamProxy | null): void {
    this.upstream = upstream;
  }

  /** Collects this context's refusals until `stop` (concurrent renders of one context each get every refusal). */
  record(): { log: EgressLog; stop: () => void } {
    const log = new EgressLog();
    this.logs.add(log);
    return { log, stop: () => this.logs.delete(log) };
  }

  close(): Promise<void> {
    return this.proxy.close();
  }
}
