import { createHmac } from 'node:crypto';

/** A context or queue key on the wire: the hex HMACs below. Renderers refuse anything else. */
export const CONTEXT_KEY_PATTERN = /^[0-9a-f]{64}$/;

/** What a browser context on a renderer belongs to: one incarnation of one tenant's session. */
export interface ContextOwner {
  tenant: string;
  sessionId: string;
  incarnation: string;
}

/**
 * The renderer's name for a session's browser context. Keyed by a secret (the renderer token,
 * which every API instance sharing the renderers has) so that nobody can compute another
 * tenant's key from names they can guess, and bound to the incarnation so that a session
 * created again with an old id never meets the old context.
 */
export function contextKey(secret: string, owner: ContextOwner): string {
  return createHmac('sha256', secret)
    .update(owner.tenant)
    .update('\0')
    .update(owner.sessionId)
    .update('\0')
    .update(owner.incarnation)
    .digest('hex');
}

/**
 * The renderer's name for a tenant's queue (renders waiting for a slot are served across these
 * in turn). Keyed like contextKey, so the renderer learns nothing of tenants.
 */
export function queueKey(secret: string, tenant: string): string {
  return createHmac('sha256', secret).update('queue\0').update(tenant).digest('hex');
}
