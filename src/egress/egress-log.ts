import type { EgressReason } from './egress-policy';
import { authorityOf, targetOfUrl } from './egress-target';
import type { ConnectFailure, Refusal } from './proxy/egress-proxy';

/** One entry of a render's `blocked_requests` (DESIGN §3). */
export interface BlockedRequest {
  url: string;
  reason: EgressReason;
}

export const MAX_BLOCKED_REQUESTS = 20;

function authorityOfUrl(url: string): string | null {
  try {
    return authorityOf(targetOfUrl(new URL(url)));
  } catch {
    return null;
  }
}

/**
 * What the egress layer did for one render: its refusals, matched with the browser's own reports
 * of the requests that failed, and why allowed connections failed. The proxy sees a tunnel
 * (HTTPS, WS, WSS) only as `host:port`; the browser knows the URL, so a matching failed request
 * lends its URL to the refusal.
 */
export class EgressLog {
  private readonly refusals: Refusal[] = [];
  /** Refusals the browser reported, with the URL it gave. */
  private readonly reported = new Map<Refusal, string>();

  /** Why the last allowed connection to a host:port failed, for the render's error message. */
  private readonly failures = new Map<string, string>();

  add(refusal: Refusal): void {
    this.refusals.push(refusal);
  }

  failed(failure: ConnectFailure): void {
    this.failures.set(failure.authority, failure.message);
  }

  private urlOf(refusal: Refusal): string {
    return this.reported.get(refusal) ?? refusal.url;
  }

  /** Refusals the browser has not (yet) reported as failed requests. */
  get unreported(): number {
    return this.refusals.length - this.reported.size;
  }

  /** The egress layer's reason for a failed connection to `url`'s host:port, if it had one. */
  failureFor(url: string): string | undefined {
    const authority = authorityOfUrl(url);
    return authority === null ? undefined : this.failures.get(authority);
  }

  /** A request the browser says failed: the refusal behind it, or undefined if it failed for another reason. */
  browserFailed(url: string): Refusal | undefined {
    const authority = authorityOfUrl(url);
    if (authority === null) return undefined;
    const unreported = (r: Refusal): boolean => r.authority === authority && !this.reported.has(r);
    // Prefer the refusal of this very URL (plain HTTP), else the oldest tunnel to the same host:port.
    const refusal = this.refusals.find((r) => unreported(r) && r.url === url) ?? this.refusals.find((r) => unreported(r) && r.url === authority);
    if (refusal) this.reported.set(refusal, url);
    return refusal;
  }

  /**
   * The first MAX_BLOCKED_REQUESTS distinct refusals, leaving out `except`, a refused navigation
   * (it fails the render instead), and the browser's retries of it: Chromium retries a request
   * once when a kept-alive proxy connection closes without an answer.
   */
  blocked(except?: Refusal): BlockedRequest[] {
    const seen = new Set<string>(except ? [`${except.reason} ${this.urlOf(except)}`] : []);
    const out: BlockedRequest[] = [];
    for (const refusal of this.refusals) {
      const entry = { url: this.urlOf(refusal), reason: refusal.reason };
      const key = `${entry.reason} ${entry.url}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(entry);
      if (out.length === MAX_BLOCKED_REQUESTS) break;
    }
    return out;
  }
}
