import { Injectable } from '@nestjs/common';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import {
  BackendMetrics,
  CapacityLimits,
  GLOBAL_RENDER_SAMPLES,
  isExpired,
  LIST_PAGE_MAX_BYTES,
  listedBytes,
  METADATA_MAX_KEYS,
  metadataBytes,
  NewSession,
  newIncarnation,
  RenderRecord,
  Session,
  SESSION_RENDER_SAMPLES,
  SessionConfig,
  SessionPatch,
  SessionRef,
  StateSnapshot,
  proxyBytes,
  utf8Bytes,
} from '../session';
import { smallestByKey } from './page-selection';
import {
  CreateOutcome,
  CreateRefusal,
  PatchOutcome,
  RecordOutcome,
  ReserveOutcome,
  StateOutcome,
  SessionBackend,
  SessionPage,
  SweepListener,
  UNREPORTED_REMOVALS_MAX,
} from './session-backend';
import { ShardedMap } from './sharded-map';

/** Entries handled between two yields to the event loop during a sweep. */
const SWEEP_SLICE = 512;
const BUCKET_MS = 1000;

/**
 * Running aggregates over a set of sessions (all of them, or one tenant's), updated by every
 * operation as it happens, so reading them is O(1) and needs no scan.
 */
class Aggregates {
  live = 0;
  sumCreatedAt = 0;
  totalRequests = 0;
  totalRenderTimeMs = 0;
  renderCount = 0;
  readonly recentRenderTimes: number[] = [];
  createdTotal = 0;
  expiredTotal = 0;
  removedTotal = 0;
  /** Stored bytes of the live (and expired, not yet dropped) sessions: the storage budget's count. */
  storedBytes = 0;

  added(createdAt: number): void {
    this.live++;
    this.sumCreatedAt += createdAt;
    this.createdTotal++;
  }

  dropped(createdAt: number, bytes: number): void {
    this.live--;
    this.sumCreatedAt -= createdAt;
    this.storedBytes -= bytes;
  }

  rendered(ms: number): void {
    this.totalRenderTimeMs += ms;
    this.renderCount++;
    pushSample(this.recentRenderTimes, ms, GLOBAL_RENDER_SAMPLES);
  }

  toMetrics(): BackendMetrics {
    return {
      activeSessions: this.live,
      totalRequests: this.totalRequests,
      totalRenderTimeMs: this.totalRenderTimeMs,
      renderCount: this.renderCount,
      sumCreatedAt: this.sumCreatedAt,
      recentRenderTimes: [...this.recentRenderTimes],
      createdTotal: this.createdTotal,
      expiredTotal: this.expiredTotal,
      removedTotal: this.removedTotal,
      storedBytes: this.storedBytes,
    };
  }
}

/**
 * One tenant: its sessions and its aggregates. Kept once created, even without sessions, so
 * that its running totals survive (tenants are few: one per configured API key).
 */
class Tenant {
  readonly sessions = new ShardedMap<Entry>();
  readonly stats = new Aggregates();

  constructor(readonly name: string) {}
}

/**
 * One stored session. A class (not an object literal) so that a million of them share one
 * hidden class; optional parts (metadata, samples, browser state) stay null until used.
 */
class Entry {
  requestCount = 0;
  errorCount = 0;
  lastUrl: string | null = null;
  lastError: string | null = null;
  totalRenderTimeMs = 0;
  renderCount = 0;
  renderTimes: number[] | null = null;
  metadata: Record<string, string> | null = null;
  storageState: StateSnapshot | null = null;
  /** UTF-8 bytes of storageState's JSON, and of everything the storage budget counts (its part included). */
  stateBytes = 0;
  bytes = 0;
  /** The expiry bucket it is filed under: its expiry's, or an earlier one (renewals file lazily). */
  bucket = 0;
  /** Its index in that bucket's array, so that it can be taken out at once; -1 while unfiled. */
  slot = -1;

  constructor(
    /** Its tenant (a shared object: a reference per session, like the tenant name it replaces). */
    readonly owner: Tenant,
    readonly id: string,
    readonly incarnation: string,
    readonly createdAt: number,
    public lastAccessed: number,
    public expiresAt: number,
    public config: SessionConfig,
  ) {}
}

/**
 * In-process backend. Every method runs to completion without awaiting, so each is atomic
 * with respect to the others on the single JS thread. Expiry is indexed by one-second
 * buckets, and a sweep visits only the buckets that have come due. Each live session is filed
 * exactly once, so the index holds one entry per session however often sessions are renewed:
 * a renewal (expiry moving later) leaves the filing where it is and the sweep that meets it
 * re-files it under its new second; an expiry moving earlier, and a removal, take the filing
 * out at once (swap with the bucket's last entry, O(1)).
 */
@Injectable()
export class MemorySessionBackend implements SessionBackend {
  private readonly tenants = new Map<string, Tenant>();
  private readonly buckets = new Map<number, Entry[]>();
  /** Configs are shared between sessions that use the same values (most use the default). */
  private readonly configs = new Map<string, SessionConfig>();
  /** Over all tenants; each tenant's own are on its Tenant. */
  private readonly all = new Aggregates();
  /** Removals no caller was told of, for the next reporting sweep (bounded). */
  private unreported: SessionRef[] = [];

  async create(init: NewSession, limits: CapacityLimits, now: number): Promise<CreateOutcome> {
    const outcome = this.insert(init, limits, now);
    if (!isRefusal(outcome)) return outcome;
    // At a cap, sessions that expired but were not swept yet must not count.
    await this.sweep(now);
    return this.insert(init, limits, now);
  }

  async get(tenant: string, id: string, now: number): Promise<Session | null> {
    const entry = this.live(tenant, id, now);
    return entry ? snapshot(entry) : null;
  }

  async touch(tenant: string, id: string, now: number): Promise<Session | null> {
    const entry = this.live(tenant, id, now);
    if (!entry) return null;
    this.touchEntry(entry, now);
    return snapshot(entry);
  }

  async reserveRequest(
    tenant: string,
    id: string,
    now: number,
    createWith?: { init: NewSession; limits: CapacityLimits },
  ): Promise<ReserveOutcome> {
    let entry = this.live(tenant, id, now);
    let created = false;
    if (!entry) {
      if (!createWith) return { kind: 'not_found' };
      let outcome = this.insert(createWith.init, createWith.limits, now);
      if (isRefusal(outcome)) {
        await this.sweep(now);
        // The sweep yielded: start over, so that lookup, insert and reservation run in one turn.
        entry = this.live(tenant, id, now);
        outcome = entry ? { kind: 'exists', session: snapshot(entry) } : this.insert(createWith.init, createWith.limits, now);
        if (isRefusal(outcome)) return outcome;
      }
      entry = this.live(tenant, id, now)!;
      created = outcome.kind === 'created';
    }
    const max = entry.config.maxRequests;
    if (max > 0 && entry.requestCount >= max) return { kind: 'limit', session: snapshot(entry) };
    entry.requestCount++;
    this.all.totalRequests++;
    entry.owner.stats.totalRequests++;
    this.touchEntry(entry, now);
    return { kind: 'reserved', session: snapshot(entry), created, stateSeq: entry.storageState?.seq ?? null };
  }

  async refundRequest(tenant: string, id: string, now: number): Promise<Session | null> {
    const entry = this.live(tenant, id, now);
    if (!entry) return null;
    if (entry.requestCount > 0) {
      entry.requestCount--;
      this.all.totalRequests--;
      entry.owner.stats.totalRequests--;
    }
    return snapshot(entry);
  }

  async recordResult(
    tenant: string,
    id: string,
    now: number,
    record: RenderRecord,
    maxTenantBytes: number,
  ): Promise<RecordOutcome | null> {
    const entry = this.live(tenant, id, now);
    if (!entry) return null;
    this.touchEntry(entry, now);
    let grown = utf8Bytes(record.url) - utf8Bytes(entry.lastUrl);
    entry.lastUrl = record.url;
    if (record.error !== null) {
      entry.errorCount++;
      grown += utf8Bytes(record.error) - utf8Bytes(entry.lastError);
      entry.lastError = record.error;
    } else if (entry.config.trackMetrics) {
      entry.totalRenderTimeMs += record.renderTimeMs;
      entry.renderCount++;
      pushSample((entry.renderTimes ??= []), record.renderTimeMs, SESSION_RENDER_SAMPLES);
      this.all.rendered(record.renderTimeMs);
      entry.owner.stats.rendered(record.renderTimeMs);
    }
    this.resize(entry, grown);
    return { session: snapshot(entry), state: this.saveState(entry, record.storageState, maxTenantBytes) };
  }

  /** The text fields are recorded first: the state is saved only if it fits what they leave. */
  private saveState(entry: Entry, state: StateSnapshot | null | undefined, maxTenantBytes: number): StateOutcome {
    if (state === undefined) return 'none';
    if (state !== null && state.seq <= (entry.storageState?.seq ?? 0)) return 'stale';
    const bytes = state === null ? 0 : utf8Bytes(state.json);
    const grown = bytes - entry.stateBytes;
    if (grown > 0 && entry.owner.stats.storedBytes + grown > maxTenantBytes) return 'over_budget';
    entry.storageState = state;
    entry.stateBytes = bytes;
    this.resize(entry, grown);
    return 'saved';
  }

  async update(tenant: string, id: string, now: number, patch: SessionPatch, maxTenantBytes: number): Promise<PatchOutcome> {
    const entry = this.live(tenant, id, now);
    if (!entry) return { kind: 'not_found' };
    let metadata = entry.metadata;
    if (patch.metadata === null) metadata = null;
    else if (patch.metadata) {
      const merged: Record<string, string> = { ...entry.metadata };
      for (const [key, value] of Object.entries(patch.metadata)) {
        if (value === null) delete merged[key];
        else merged[key] = value;
      }
      const keys = Object.keys(merged).length;
      if (keys > METADATA_MAX_KEYS) return { kind: 'metadata_limit', keys };
      metadata = keys > 0 ? merged : null;
    }
    const { ttlSeconds, autoRenew, maxRequests, trackMetrics, proxy } = patch;
    const keptProxy = proxy === undefined ? entry.config.proxy : (proxy ?? undefined);
    const grown =
      metadataBytes(metadata) - metadataBytes(entry.metadata) + proxyBytes(keptProxy) - proxyBytes(entry.config.proxy);
    const stored = entry.owner.stats.storedBytes;
    if (grown > 0 && stored + grown > maxTenantBytes) return { kind: 'bytes_quota', bytes: stored + grown, max: maxTenantBytes };
    entry.metadata = metadata;
    this.resize(entry, grown);
    if (
      ttlSeconds !== undefined ||
      autoRenew !== undefined ||
      maxRequests !== undefined ||
      trackMetrics !== undefined ||
      proxy !== undefined
    ) {
      entry.config = this.sharedConfig({
        ttlSeconds: ttlSeconds ?? entry.config.ttlSeconds,
        autoRenew: autoRenew ?? entry.config.autoRenew,
        maxRequests: maxRequests ?? entry.config.maxRequests,
        trackMetrics: trackMetrics ?? entry.config.trackMetrics,
        ...(keptProxy && { proxy: keptProxy }),
      });
    }
    // A new TTL counts from the change, so shortening it cannot expire a session in the past.
    if (ttlSeconds !== undefined) this.setExpiry(entry, now + ttlSeconds * 1000);
    return { kind: 'updated', session: snapshot(entry) };
  }

  async remove(tenant: string, id: string, now: number): Promise<SessionRef | null> {
    const entry = this.live(tenant, id, now);
    if (!entry) return null;
    this.unlink(entry);
    this.all.removedTotal++;
    entry.owner.stats.removedTotal++;
    return refOf(entry);
  }

  async list(tenant: string, now: number, limit: number, after: string | null): Promise<SessionPage> {
    const sessions = this.tenants.get(tenant)?.sessions;
    if (!sessions || sessions.size === 0) return { items: [], after: null };
    const { page, more } = smallestByKey(this.listable(sessions, now, after), (entry) => entry.id, limit);
    let taken = 0;
    let bytes = 0;
    while (taken < page.length && (taken === 0 || bytes < LIST_PAGE_MAX_BYTES)) {
      bytes += listedBytes(page[taken].bytes - page[taken].stateBytes);
      taken++;
    }
    const items = page.slice(0, taken);
    return { items: items.map(snapshot), after: more || taken < page.length ? items[taken - 1].id : null };
  }

  private *listable(sessions: ShardedMap<Entry>, now: number, after: string | null): IterableIterator<Entry> {
    for (const entry of sessions.values()) {
      if ((after === null || entry.id > after) && !isExpired(entry.expiresAt, now)) yield entry;
    }
  }

  async storageState(tenant: string, id: string, now: number): Promise<{ state: StateSnapshot | null } | null> {
    const entry = this.live(tenant, id, now);
    return entry ? { state: entry.storageState } : null;
  }

  async sweep(now: number, listener?: SweepListener): Promise<number> {
    if (listener) {
      const held = this.unreported;
      this.unreported = [];
      for (const ref of held) listener(ref, false);
    }
    const due = Math.floor(now / BUCKET_MS);
    const keys = [...this.buckets.keys()].filter((key) => key <= due).sort((a, b) => a - b);
    let removed = 0;
    let sinceYield = 0;
    for (const key of keys) {
      const filed = this.buckets.get(key);
      if (!filed) continue;
      // Taken from the end, so entries still waiting keep their slots while the sweep yields
      // (an operation in between may take one out, or a concurrent sweep take some too).
      const notYet: Entry[] = [];
      let entry: Entry | undefined;
      while ((entry = filed.pop())) {
        entry.slot = -1;
        const bucket = bucketOf(entry.expiresAt);
        if (isExpired(entry.expiresAt, now)) {
          this.unlink(entry);
          this.countExpired(entry);
          removed++;
          if (listener) listener(refOf(entry), true);
          else this.holdUnreported(entry);
        } else if (bucket === key) {
          notYet.push(entry); // due this second, but not yet at its millisecond
        } else {
          this.file(entry, bucket); // renewed since it was filed
        }
        if (++sinceYield >= SWEEP_SLICE) {
          sinceYield = 0;
          await yieldToEventLoop();
        }
      }
      if (this.buckets.get(key) === filed) this.buckets.delete(key);
      // Unless removed or filed anew meanwhile.
      for (const waiting of notYet) if (waiting.slot === -1 && this.isLinked(waiting)) this.file(waiting, key);
    }
    return removed;
  }

  async metrics(now: number, tenant?: string): Promise<BackendMetrics> {
    // Sweeping first keeps the counts exact: an expired session is gone at once (DESIGN §2).
    await this.sweep(now);
    if (tenant === undefined) return this.all.toMetrics();
    return (this.tenants.get(tenant)?.stats ?? EMPTY).toMetrics();
  }

  async ping(): Promise<void> {}

  /**
   * The live entry, or null; an expired one found here is removed and counted at once, and
   * held for the next reporting sweep.
   */
  private live(tenant: string, id: string, now: number): Entry | null {
    const entry = this.tenants.get(tenant)?.sessions.get(id);
    if (!entry) return null;
    if (!isExpired(entry.expiresAt, now)) return entry;
    this.unlink(entry);
    this.countExpired(entry);
    this.holdUnreported(entry);
    return null;
  }

  private countExpired(entry: Entry): void {
    this.all.expiredTotal++;
    entry.owner.stats.expiredTotal++;
  }

  private holdUnreported(entry: Entry): void {
    if (this.unreported.length < UNREPORTED_REMOVALS_MAX) this.unreported.push(refOf(entry));
  }

  private insert(init: NewSession, limits: CapacityLimits, now: number): CreateOutcome {
    const existing = this.live(init.tenant, init.id, now);
    if (existing) return { kind: 'exists', session: snapshot(existing) };
    const inTenant = this.tenants.get(init.tenant)?.sessions.size ?? 0;
    if (inTenant >= limits.maxPerTenant) return { kind: 'tenant_quota', live: inTenant, max: limits.maxPerTenant };
    const live = this.all.live;
    if (live >= limits.maxSessions) return { kind: 'capacity', live, max: limits.maxSessions };
    const bytes = metadataBytes(init.metadata) + proxyBytes(init.config.proxy);
    const stored = this.tenants.get(init.tenant)?.stats.storedBytes ?? 0;
    if (bytes > 0 && stored + bytes > limits.maxBytesPerTenant) {
      return { kind: 'bytes_quota', bytes: stored + bytes, max: limits.maxBytesPerTenant };
    }

    let owner = this.tenants.get(init.tenant);
    if (!owner) this.tenants.set(init.tenant, (owner = new Tenant(init.tenant)));
    const entry = new Entry(owner, init.id, newIncarnation(), now, now, now + init.config.ttlSeconds * 1000, this.sharedConfig(init.config));
    if (init.metadata && Object.keys(init.metadata).length > 0) entry.metadata = { ...init.metadata };
    owner.sessions.set(entry.id, entry);
    this.file(entry, bucketOf(entry.expiresAt));
    this.all.added(now);
    owner.stats.added(now);
    this.resize(entry, bytes);
    return { kind: 'created', session: snapshot(entry) };
  }

  private touchEntry(entry: Entry, now: number): void {
    entry.lastAccessed = now;
    if (entry.config.autoRenew) this.setExpiry(entry, now + entry.config.ttlSeconds * 1000);
  }

  private setExpiry(entry: Entry, expiresAt: number): void {
    entry.expiresAt = expiresAt;
    // Later: the sweep re-files it when it meets the old filing. Earlier: the sweep must meet it in time.
    const bucket = bucketOf(expiresAt);
    if (bucket < entry.bucket) this.file(entry, bucket);
  }

  /** Files the entry under `bucket`, taking it out of wherever it was filed before. */
  private file(entry: Entry, bucket: number): void {
    this.unfile(entry);
    let filed = this.buckets.get(bucket);
    if (!filed) this.buckets.set(bucket, (filed = []));
    entry.bucket = bucket;
    entry.slot = filed.length;
    filed.push(entry);
  }

  private unfile(entry: Entry): void {
    if (entry.slot === -1) return;
    const filed = this.buckets.get(entry.bucket)!;
    const last = filed.pop()!;
    if (last !== entry) {
      filed[entry.slot] = last;
      last.slot = entry.slot;
    }
    entry.slot = -1;
    if (filed.length === 0) this.buckets.delete(entry.bucket);
  }

  private isLinked(entry: Entry): boolean {
    return entry.owner.sessions.get(entry.id) === entry;
  }

  private unlink(entry: Entry): void {
    const { sessions, stats } = entry.owner;
    if (!this.isLinked(entry)) return;
    this.unfile(entry);
    sessions.delete(entry.id);
    // The totals only, not the dropped entry's own `bytes` (never read again): writing that
    // field allocated ~190 bytes per entry in V8, which made a sweep of a million sessions
    // scavenge for 15-25 ms at a time (sampling heap profile of P4's sweep: 225 -> 33 bytes
    // allocated per session; issue 10).
    this.all.dropped(entry.createdAt, entry.bytes);
    stats.dropped(entry.createdAt, entry.bytes);
  }

  /** Adds to the session's stored bytes and to its tenant's and the global count. */
  private resize(entry: Entry, by: number): void {
    entry.bytes += by;
    entry.owner.stats.storedBytes += by;
    this.all.storedBytes += by;
  }

  private sharedConfig(config: SessionConfig): SessionConfig {
    // A proxy (with its credentials) is the session's own: such a config is never shared.
    if (config.proxy) return Object.freeze({ ...config, proxy: Object.freeze({ ...config.proxy }) });
    const key = `${config.ttlSeconds}|${+config.autoRenew}|${config.maxRequests}|${+config.trackMetrics}`;
    let shared = this.configs.get(key);
    if (!shared) {
      // Bounded: an unusual config is simply not shared once many distinct ones exist.
      if (this.configs.size >= 1024) return Object.freeze({ ...config });
      shared = Object.freeze({ ...config });
      this.configs.set(key, shared);
    }
    return shared;
  }
}

const isRefusal = (outcome: CreateOutcome): outcome is CreateRefusal => outcome.kind !== 'created' && outcome.kind !== 'exists';

const bucketOf = (expiresAt: number): number => Math.floor(expiresAt / BUCKET_MS);

/** The aggregates of a tenant that has had no session yet. */
const EMPTY = new Aggregates();

function pushSample(samples: number[], value: number, max: number): void {
  samples.push(value);
  if (samples.length > max) samples.shift();
}

const refOf = (entry: Entry): SessionRef => ({ tenant: entry.owner.name, id: entry.id, incarnation: entry.incarnation });

function snapshot(entry: Entry): Session {
  return {
    tenant: entry.owner.name,
    id: entry.id,
    incarnation: entry.incarnation,
    createdAt: entry.createdAt,
    lastAccessed: entry.lastAccessed,
    expiresAt: entry.expiresAt,
    config: entry.config,
    requestCount: entry.requestCount,
    errorCount: entry.errorCount,
    lastUrl: entry.lastUrl,
    lastError: entry.lastError,
    totalRenderTimeMs: entry.totalRenderTimeMs,
    renderCount: entry.renderCount,
    renderTimes: entry.renderTimes ? [...entry.renderTimes] : [],
    metadata: entry.metadata ? { ...entry.metadata } : {},
  };
}
