const SHARDS = 16;

/** FNV-1a: cheap, and spreads sequential client ids ("user-1", "user-2", …) evenly. */
function shardOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % SHARDS;
}

/**
 * A string-keyed map split over a few V8 Maps. A single Map holding a million entries
 * rebuilds its whole table in one call when it grows or shrinks past a power of two, which
 * stalls the event loop for tens of milliseconds; split, each rebuild is a sixteenth of that.
 */
export class ShardedMap<V> {
  private readonly shards: (Map<string, V> | undefined)[] = new Array(SHARDS);
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(key: string): V | undefined {
    return this.shards[shardOf(key)]?.get(key);
  }

  set(key: string, value: V): void {
    const index = shardOf(key);
    const shard = (this.shards[index] ??= new Map());
    const before = shard.size;
    shard.set(key, value);
    this.count += shard.size - before;
  }

  delete(key: string): boolean {
    const shard = this.shards[shardOf(key)];
    if (!shard?.delete(key)) return false;
    this.count--;
    return true;
  }

  *values(): IterableIterator<V> {
    for (const shard of this.shards) if (shard) yield* shard.values();
  }
}
