/**
 * Retry-After for refusals that waiting can clear (a busy renderer, capacity, a per-tenant
 * concurrency cap, the backend being away): the error filter sends the header. Kept beside
 * the exception rather than in a subclass, so `instanceof ServiceUnavailableException` and
 * friends still hold. Quota refusals never get one: waiting does not clear them.
 */
const retryAfter = new WeakMap<object, number>();

export function retryLater<E extends Error>(exception: E, seconds: number): E {
  retryAfter.set(exception, Math.max(1, Math.ceil(seconds)));
  return exception;
}

/** Seconds to wait before retrying, or undefined when waiting would not help. */
export const retryAfterOf = (exception: unknown): number | undefined =>
  typeof exception === 'object' && exception !== null ? retryAfter.get(exception) : undefined;
