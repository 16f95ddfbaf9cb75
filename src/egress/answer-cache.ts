import type { Clock } from '../common/clock';
import type { HostResolver, ResolveOutcome } from './host-resolver';

export interface AnswerCacheOptions {
  /** How long an answer without a TTL (getaddrinfo's) is kept. */
  untimedMs: number;
  /** The longest any answer is kept, whatever its TTL. */
  maxMs: number;
  /** Names kept at most; the oldest answer goes first. */
  maxNames: number;
}

/**
 * For the API's early URL check (render/url-policy.ts): without it, every render of a named
 * host waited for one lookup in the API, then another in the renderer; in a Kubernetes pod
 * (`ndots: 5`) one lookup of an outside name is several queries to the cluster resolver.
 */
export const EARLY_CHECK_ANSWERS: AnswerCacheOptions = { untimedMs: 10_000, maxMs: 60_000, maxNames: 1000 };

interface Kept {
  outcome: ResolveOutcome;
  until: number;
}

/**
 * Keeps a resolver's answers for their TTL (within `options`), and asks once for a name that
 * concurrent callers want. Only answers are kept: a failure (no addresses, a timeout) is asked
 * again next time, so a name that just appeared or a resolver that recovered is seen at once.
 *
 * Safe for the early check only because it is not the fence: the renderer's egress layer
 * resolves afresh for every connection the browser opens and judges those addresses. A kept
 * answer can at most refuse a name early for up to its TTL after it moved off a private address,
 * as any caching resolver would.
 */
export function cacheAnswers(resolve: HostResolver, clock: Clock, options: AnswerCacheOptions): HostResolver {
  const kept = new Map<string, Kept>();
  const asking = new Map<string, Promise<ResolveOutcome>>();

  const keep = (host: string, outcome: ResolveOutcome): void => {
    if (!outcome.ok) return;
    const ms = outcome.ttlSeconds === undefined ? options.untimedMs : Math.min(outcome.ttlSeconds * 1000, options.maxMs);
    if (ms <= 0) return;
    kept.delete(host);
    if (kept.size >= options.maxNames) kept.delete(kept.keys().next().value as string);
    kept.set(host, { outcome, until: clock.now() + ms });
  };

  return (host) => {
    const hit = kept.get(host);
    if (hit) {
      if (clock.now() < hit.until) return Promise.resolve(hit.outcome);
      kept.delete(host);
    }
    let pending = asking.get(host);
    if (!pending) {
      pending = resolve(host)
        .then((outcome) => {
          keep(host, outcome);
          return outcome;
        })
        .finally(() => asking.delete(host));
      asking.set(host, pending);
    }
    return pending;
  };
}
