/**
 * Where the Redis backend keeps things (the key layout is in session-scripts.ts' header). Every
 * key a request-path script touches carries one bucket's hash tag, so each script runs in one
 * Cluster slot; a tenant's sessions spread over all buckets, and so over the primaries.
 */

/**
 * The buckets' hash tags: tag i is the first "rt<i>.<n>" whose Cluster slot lies in the middle
 * half of the i-th sixteenth of the 16384 slots, so that the buckets spread evenly over any
 * split of the slot space into ranges (redis-cli --cluster create gives each primary one range).
 * Changing the list, or the bucket of an id, strands every stored session.
 */
export const BUCKET_TAGS: readonly string[] = [
  'rt0.63', 'rt1.68', 'rt2.2', 'rt3.1', 'rt4.13', 'rt5.18', 'rt6.20', 'rt7.38',
  'rt8.43', 'rt9.48', 'rt10.60', 'rt11.78', 'rt12.41', 'rt13.59', 'rt14.3', 'rt15.0',
];
export const BUCKETS = BUCKET_TAGS.length;

/** The tag of the global seat counters ('*' is never in a tenant name). */
const GLOBAL_SEATS_TAG = '*';

/** FNV-1a over tenant and id: the session's bucket. */
export function bucketOf(tenant: string, id: string): number {
  const key = `${tenant}\u0000${id}`;
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % BUCKETS;
}

export function checkTenant(tenant: string): void {
  // ':' separates tenant and id in key names; braces would make a hash tag; '|' splits the index
  // member; '*' names the global seats.
  if (/[{}|:*]/.test(tenant)) throw new Error(`tenant '${tenant}' cannot be stored in redis`);
}

/** The bucket's key of this kind: P kind:{tag}[:tenant[:id]]. */
export function bucketKey(prefix: string, kind: string, bucket: number, tenant?: string, id?: string): string {
  let key = `${prefix}${kind}:{${BUCKET_TAGS[bucket]}}`;
  if (tenant !== undefined) key += `:${tenant}`;
  if (id !== undefined) key += `:${id}`;
  return key;
}

/**
 * The KEYS of a per-session script: the session's own four keys, then its tenant's two index
 * keys in the bucket, the bucket's expiry index, stats and recent times, the tenant's stats and
 * recent times in the bucket, the bucket's removals held for the next reporting sweep, and the
 * seats of the tenant's and of all creates in the bucket that may not be settled yet.
 */
export function sessionKeys(prefix: string, tenant: string, id: string): string[] {
  checkTenant(tenant);
  if (/[{}|]/.test(id)) throw new Error(`session id '${id}' cannot be stored in redis (braces or '|')`);
  const b = bucketOf(tenant, id);
  return [
    bucketKey(prefix, 'sess', b, tenant, id),
    bucketKey(prefix, 'meta', b, tenant, id),
    bucketKey(prefix, 'times', b, tenant, id),
    bucketKey(prefix, 'state', b, tenant, id),
    bucketKey(prefix, 'ids', b, tenant),
    bucketKey(prefix, 'exp', b, tenant),
    bucketKey(prefix, 'exp', b),
    bucketKey(prefix, 'stats', b),
    bucketKey(prefix, 'times', b),
    bucketKey(prefix, 'stats', b, tenant),
    bucketKey(prefix, 'times', b, tenant),
    bucketKey(prefix, 'unreported', b),
    bucketKey(prefix, 'unsettled', b, tenant),
    bucketKey(prefix, 'unsettled', b),
  ];
}

/** A session cap's seat keys (SEAT_TAKE): the tenant's, or with no tenant the global one. */
export function seatKeys(prefix: string, tenant?: string): [string, string] {
  const tag = tenant ?? GLOBAL_SEATS_TAG;
  return [`${prefix}seats:{${tag}}`, `${prefix}pending:{${tag}}`];
}
