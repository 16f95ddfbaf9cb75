import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../config/app-config';

interface KeyEntry {
  /** SHA-256 of the key: every entry is 32 bytes, whatever the key's length. */
  readonly digest: Buffer;
  readonly tenant: string;
}

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * The configured API keys (`API_KEYS`, "key:tenant" pairs), looked up in constant time.
 *
 * Both sides are hashed with SHA-256 before `timingSafeEqual`, so the comparison always
 * runs over 32 bytes (a key's length does not show in the timing), and every entry is
 * compared on every lookup (no early exit on a match), so the position of the matching key
 * does not show either. The keys themselves are not kept, only their digests.
 */
export class ApiKeyRing {
  private readonly entries: readonly KeyEntry[];
  /** Distinct tenants, for the start-up line (never the keys). */
  readonly tenants: readonly string[];

  /** @throws ConfigError on a malformed entry or a key listed twice. */
  constructor(pairs: readonly string[]) {
    const entries: KeyEntry[] = [];
    const seen = new Set<string>();
    for (const pair of pairs) {
      // The key cannot contain ':' (config validation), so the first ':' splits it off.
      const at = pair.indexOf(':');
      if (at <= 0 || at === pair.length - 1) {
        throw new ConfigError('config error: API_KEYS (api_keys) each entry must be "key:tenant"');
      }
      const key = pair.slice(0, at);
      const tenant = pair.slice(at + 1);
      if (seen.has(key)) {
        // Never echo the key: name the entry by position and tenant instead.
        throw new ConfigError(`config error: API_KEYS (api_keys) a key is listed twice (entry ${entries.length + 1}, tenant "${tenant}")`);
      }
      seen.add(key);
      entries.push({ digest: sha256(key), tenant });
    }
    this.entries = entries;
    this.tenants = [...new Set(entries.map((e) => e.tenant))];
  }

  /** No keys: the API is open and every caller is tenant "default". */
  get enabled(): boolean {
    return this.entries.length > 0;
  }

  get size(): number {
    return this.entries.length;
  }

  /** The tenant of a presented key, or null. Constant time in the key and its position. */
  tenantFor(presented: string): string | null {
    const digest = sha256(presented);
    let tenant: string | null = null;
    for (const entry of this.entries) {
      // `&& tenant === null` after the comparison, never before: every entry is compared.
      if (timingSafeEqual(digest, entry.digest) && tenant === null) tenant = entry.tenant;
    }
    return tenant;
  }
}
