import { contextKey, queueKey } from '../renderer-rpc';
import type { SessionRef } from '../session/session';

/** Keys remembered per kind: two short strings each, so a few MB at most. */
const MAX_REMEMBERED = 10_000;

/**
 * The renderers' names for session contexts and tenant queues (contextKey, queueKey),
 * remembered. Each is an HMAC, and setting one up (OpenSSL's key schedule and context) cost a
 * session render about 4 % of the API's CPU (CPU profile, issue 10), while a session
 * incarnation's key never changes. Bounded: past MAX_REMEMBERED the oldest is forgotten, and
 * computed again when it is next needed.
 */
export class RendererKeys {
  private readonly contexts = new Map<string, string>();
  private readonly queues = new Map<string, string>();

  constructor(
    private readonly secret: string,
    private readonly max = MAX_REMEMBERED,
  ) {}

  context({ tenant, id, incarnation }: SessionRef): string {
    // Ids and tenants never hold NUL (ids are validated, tenants are configured names): the
    // same separator contextKey hashes with.
    return remember(this.contexts, `${tenant}\0${id}\0${incarnation}`, this.max, () =>
      contextKey(this.secret, { tenant, sessionId: id, incarnation }),
    );
  }

  queue(tenant: string): string {
    return remember(this.queues, tenant, this.max, () => queueKey(this.secret, tenant));
  }
}

function remember(keys: Map<string, string>, name: string, max: number, compute: () => string): string {
  let key = keys.get(name);
  if (key === undefined) {
    key = compute();
    // A Map iterates in insertion order: its first entry is the oldest.
    if (keys.size >= max) keys.delete(keys.keys().next().value as string);
    keys.set(name, key);
  }
  return key;
}
