import { Logger, LoggerService, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import Redis, { Cluster, ReplyError } from 'ioredis';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { connectRedis } from './redis-connection';
import {
  BackendMetrics,
  CapacityLimits,
  GLOBAL_RENDER_SAMPLES,
  LIST_ITEM_OVERHEAD_BYTES,
  LIST_PAGE_MAX_BYTES,
  METADATA_MAX_KEYS,
  NewSession,
  newIncarnation,
  proxyJson,
  RenderRecord,
  Session,
  SESSION_RENDER_SAMPLES,
  SessionPatch,
  SessionRef,
  StateSnapshot,
  UpstreamProxy,
} from '../session';
import { BUCKET_TAGS, BUCKETS, bucketKey, bucketOf, checkTenant, seatKeys, sessionKeys } from './lua/key-layout';
import {
  BucketCount,
  createArgv,
  InsertArgs,
  listIdsArgv,
  metricsArgv,
  recordArgv,
  reserveArgv,
  seatSettleArgv,
  seatTakeArgv,
  SESSION_SCRIPTS,
  SessionArgs,
  sessionArgv,
  SessionScriptName,
  sweepArgv,
  updateArgv,
} from './lua/session-scripts';
import {
  BackendUnavailableError,
  BytesQuota,
  CreateOutcome,
  CreateRefusal,
  PatchOutcome,
  RecordOutcome,
  ReserveOutcome,
  SessionBackend,
  SessionPage,
  StateOutcome,
  SweepListener,
} from './session-backend';

export interface RedisSessionBackendOptions {
  /**
   * redis:// or rediss:// URL; a path selects the database (redis://host:6379/3). With
   * clusterNodes, only its credentials and scheme (rediss:// = TLS) apply.
   */
  url: string;
  /** Redis Cluster seed nodes ("host:port"): cluster mode. Their addresses win over url's host. */
  clusterNodes?: string[];
  /** Prefix of every key this backend writes. Default "riptide:". */
  prefix?: string;
  /** A command without a reply after this long fails (503). Default 2000 ms. */
  commandTimeoutMs?: number;
  /** Connecting (and each reconnection attempt) gives up after this long. Default 2000 ms. */
  connectTimeoutMs?: number;
  /** Longest pause between reconnection attempts. Default 1000 ms. */
  maxReconnectDelayMs?: number;
  /** How long Redis keeps a session's keys after expires_at (absorbs clock skew). Default 60 s. */
  keyTtlGraceMs?: number;
  /** Index entries handled per sweep script; the sweep yields between batches. Default 500. */
  sweepBatch?: number;
  /**
   * How long a create's seat (SEAT_TAKE) counts without its create having settled it: what a
   * crashed instance's half-done create holds. Default 30 s.
   */
  seatLeaseMs?: number;
  /** How old a tenant's cached bytes of the other buckets may get before a background re-read. Default 1 s. */
  bytesRefreshMs?: number;
  logger?: LoggerService;
}

/** How often a script is sent while Redis answers that it does not have it. */
const NOSCRIPT_ATTEMPTS = 3;

/** Reply errors that mean "Redis cannot serve now", as opposed to a bad command or script. */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|OOM|MISCONF)\b/;

type RawSession = [string[], string[], string[]];
type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;
/** What every per-session script reports of its bucket (see REPORT in session-scripts.ts). */
type BucketReport = [
  tenantBytes: number,
  tenantCreated: number,
  tenantDropped: number,
  tenantSeats: string[],
  created: number,
  dropped: number,
  seats: string[],
];

interface TenantBytes {
  /** The tenant's stored bytes per bucket, as last heard. */
  perBucket: number[];
  at: number;
  refreshing: boolean;
}

interface Seat {
  token: string;
  /** The tenant's and the global seat keys, for settling. */
  tenantKeys: [string, string];
  globalKeys: [string, string];
}

/**
 * Sessions in Redis or a Redis Cluster, shared by any number of API instances (DESIGN §4). Each
 * operation is one Lua script (lua/session-scripts.ts has the key layout and the scheme) on one
 * bucket's slot, sent with EVALSHA by ioredis, which falls back to EVAL on NOSCRIPT (per node).
 * A create takes a seat first (two round trips; its settling is sent without being waited for).
 *
 * Failure behaviour: no offline queue and no retries of a command that may have run, so while
 * Redis (or a primary) is away an operation fails at once (or after commandTimeoutMs when Redis
 * hangs) with BackendUnavailableError, which the API answers with 503. A command that was in
 * flight when the connection broke is failed, never resent: a reservation must not be applied
 * twice. The client keeps reconnecting (and, on a Cluster, refreshing the slot map) in the
 * background, so the backend recovers by itself.
 */
export class RedisSessionBackend implements SessionBackend, OnModuleInit, OnApplicationShutdown {
  readonly redis: Redis | Cluster;
  private readonly prefix: string;
  private readonly graceMs: number;
  private readonly sweepBatch: number;
  private readonly seatLeaseMs: number;
  private readonly bytesRefreshMs: number;
  private readonly connectTimeoutMs: number;
  private readonly logger: LoggerService;
  private readonly scripts: Record<SessionScriptName, ScriptFn>;
  private readonly bytes = new Map<string, TenantBytes>();
  /** False from a lost connection until the next successful one: one log line per outage. */
  private up = true;
  private closed = false;
  /** The last connection error (ECONNREFUSED…), the cause ping() reports while disconnected. */
  private lastError: Error | null = null;

  constructor(options: RedisSessionBackendOptions) {
    this.prefix = options.prefix ?? 'riptide:';
    if (/[{}]/.test(this.prefix)) throw new Error('redis key prefix must not contain braces (they are hash tags)');
    this.graceMs = options.keyTtlGraceMs ?? 60_000;
    this.sweepBatch = options.sweepBatch ?? 500;
    this.seatLeaseMs = options.seatLeaseMs ?? 30_000;
    this.bytesRefreshMs = options.bytesRefreshMs ?? 1000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2000;
    this.logger = options.logger ?? new Logger(RedisSessionBackend.name);
    this.redis = connectRedis({ ...options, connectTimeoutMs: this.connectTimeoutMs, connectionName: 'riptide-api:sessions' });
    for (const [name, definition] of Object.entries(SESSION_SCRIPTS)) this.redis.defineCommand(name, definition);
    this.scripts = this.redis as unknown as Record<SessionScriptName, ScriptFn>;
    // Without an 'error' listener ioredis would print every failed reconnection attempt.
    this.redis.on('error', (err: Error) => (this.lastError = err));
    this.redis.on('node error', (err: Error) => (this.lastError = err));
    this.redis.on('reconnecting', () => {
      if (!this.up || this.closed) return;
      this.up = false;
      this.logger.warn(`session backend (redis) unavailable: ${this.lastError?.message ?? 'connection closed'}; reconnecting`);
    });
    this.redis.on('ready', () => {
      this.lastError = null;
      if (this.up) return;
      this.up = true;
      this.logger.log('session backend (redis) connected again');
    });
  }

  get keyPrefix(): string {
    return this.prefix;
  }

  /** Resolves once connected; rejects with BackendUnavailableError after `timeoutMs`. */
  async ready(timeoutMs = this.connectTimeoutMs): Promise<void> {
    if (this.redis.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        clearTimeout(timer);
        this.redis.off('ready', onReady);
        if (err) reject(err);
        else resolve();
      };
      const onReady = (): void => done();
      const timer = setTimeout(
        () => done(new BackendUnavailableError(new Error(`not connected to redis after ${timeoutMs} ms`))),
        timeoutMs,
      );
      this.redis.on('ready', onReady);
    });
  }

  /** Waits for the first connection, but starts anyway: requests get 503 until Redis is there. */
  async onModuleInit(): Promise<void> {
    try {
      await this.ready();
    } catch {
      this.logger.warn('session backend (redis) not reachable at start; serving 503 until it is');
    }
  }

  /**
   * Closes the connection. At application shutdown rather than module destroy: Nest destroys
   * modules before the HTTP server has drained, and requests still in flight need Redis.
   */
  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  /** Closes the connection (QUIT, so replies in flight still arrive) and stops reconnecting. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.redis.status === 'end') return;
    const ended = new Promise<void>((resolve) => this.redis.once('end', () => resolve()));
    if (this.redis.status === 'ready') {
      await this.redis.quit().catch(() => this.redis.disconnect());
    } else {
      this.redis.disconnect();
    }
    await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  }

  async create(init: NewSession, limits: CapacityLimits, now: number): Promise<CreateOutcome> {
    const outcome = await this.createOnce(init, limits, now);
    if (!isRefusal(outcome)) return outcome;
    // The seats and the bytes count sessions until they are dropped, and mirror the buckets
    // lazily: at a cap, drop the expired ones, bring the mirrors up to date, and try again.
    await this.catchUp(init.tenant, now);
    return this.createOnce(init, limits, now);
  }

  /** A seat, then the create (two round trips); an id that is live already answers without a seat. */
  private async createOnce(init: NewSession, limits: CapacityLimits, now: number): Promise<CreateOutcome> {
    const seat = await this.takeSeat(init.tenant, limits, now);
    if (seat.kind !== 'seat') {
      const existing = await this.get(init.tenant, init.id, now);
      return existing ? { kind: 'exists', session: existing } : seat;
    }
    const at = this.at(init.tenant, init.id, now);
    const insert = insertArgs(init, limits, seat.seat.token, this.seatLeaseMs);
    const reply = (await this.seated(seat.seat, at, 'rtCreate', createArgv(at, insert))) as unknown[];
    switch (reply[0]) {
      case 'created':
      case 'exists':
        return { kind: reply[0], session: toSession(init.tenant, init.id, reply[1] as RawSession) };
      default:
        return refusal(reply);
    }
  }

  async get(tenant: string, id: string, now: number): Promise<Session | null> {
    const at = this.at(tenant, id, now);
    return this.maybeSession(tenant, id, await this.run('rtGet', at, sessionArgv(at)));
  }

  async touch(tenant: string, id: string, now: number): Promise<Session | null> {
    const at = this.at(tenant, id, now);
    return this.maybeSession(tenant, id, await this.run('rtTouch', at, sessionArgv(at)));
  }

  /** One round trip for a live session; a missing one to create takes a seat and one more. */
  async reserveRequest(
    tenant: string,
    id: string,
    now: number,
    createWith?: { init: NewSession; limits: CapacityLimits },
  ): Promise<ReserveOutcome> {
    if (createWith && (createWith.init.tenant !== tenant || createWith.init.id !== id)) {
      throw new Error('reserveRequest: createWith must describe the same tenant and id');
    }
    const outcome = await this.reserveOnce(tenant, id, now, null);
    if (outcome.kind !== 'not_found' || !createWith) return outcome;
    const { init, limits } = createWith;
    let seat = await this.takeSeat(tenant, limits, now);
    if (seat.kind !== 'seat') {
      await this.catchUp(tenant, now);
      seat = await this.takeSeat(tenant, limits, now);
      if (seat.kind !== 'seat') {
        const again = await this.reserveOnce(tenant, id, now, null);
        return again.kind === 'not_found' ? seat : again;
      }
    }
    return this.reserveOnce(tenant, id, now, { seat: seat.seat, insert: insertArgs(init, limits, seat.seat.token, this.seatLeaseMs) });
  }

  private async reserveOnce(
    tenant: string,
    id: string,
    now: number,
    creating: { seat: Seat; insert: InsertArgs } | null,
  ): Promise<ReserveOutcome> {
    const at = this.at(tenant, id, now);
    const argv = reserveArgv(at, creating?.insert ?? null);
    const reply = (await (creating ? this.seated(creating.seat, at, 'rtReserve', argv) : this.run('rtReserve', at, argv))) as unknown[];
    switch (reply[0]) {
      case 'reserved':
        return {
          kind: 'reserved',
          session: toSession(tenant, id, reply[1] as RawSession),
          created: Number(reply[2]) === 1,
          stateSeq: Number(reply[3]) === 1 ? Number(reply[4]) : null,
        };
      case 'limit':
        return { kind: 'limit', session: toSession(tenant, id, reply[1] as RawSession) };
      case 'not_found':
        return { kind: 'not_found' };
      default:
        return refusal(reply);
    }
  }

  async refundRequest(tenant: string, id: string, now: number): Promise<Session | null> {
    const at = this.at(tenant, id, now);
    return this.maybeSession(tenant, id, await this.run('rtRefund', at, sessionArgv(at)));
  }

  async recordResult(
    tenant: string,
    id: string,
    now: number,
    record: RenderRecord,
    maxTenantBytes: number,
  ): Promise<RecordOutcome | null> {
    const at = this.at(tenant, id, now);
    const reply = (await this.run(
      'rtRecord',
      at,
      recordArgv(at, {
        url: record.url,
        renderTimeMs: record.renderTimeMs,
        error: record.error,
        state: record.storageState,
        sessionSamples: SESSION_RENDER_SAMPLES,
        globalSamples: GLOBAL_RENDER_SAMPLES,
        maxTenantBytes,
      }),
    )) as [RawSession, StateOutcome] | [];
    return reply.length === 0 ? null : { session: toSession(tenant, id, reply[0]), state: reply[1] };
  }

  async update(tenant: string, id: string, now: number, patch: SessionPatch, maxTenantBytes: number): Promise<PatchOutcome> {
    const at = this.at(tenant, id, now);
    const args = updateArgv(at, {
      maxMetadataKeys: METADATA_MAX_KEYS,
      maxTenantBytes,
      ttlSeconds: patch.ttlSeconds,
      autoRenew: patch.autoRenew,
      maxRequests: patch.maxRequests,
      trackMetrics: patch.trackMetrics,
      proxyJson: patch.proxy === undefined ? undefined : patch.proxy === null ? null : proxyJson(patch.proxy),
      metadata: patch.metadata === null ? null : Object.entries(patch.metadata ?? {}),
    });
    const reply = (await this.run('rtUpdate', at, args)) as unknown[];
    switch (reply[0]) {
      case 'updated':
        return { kind: 'updated', session: toSession(tenant, id, reply[1] as RawSession) };
      case 'metadata_limit':
        return { kind: 'metadata_limit', keys: Number(reply[1]) };
      case 'bytes_quota':
        return refusal(reply) as BytesQuota;
      default:
        return { kind: 'not_found' };
    }
  }

  async remove(tenant: string, id: string, now: number): Promise<SessionRef | null> {
    const at = this.at(tenant, id, now);
    const incarnation = await this.run('rtRemove', at, sessionArgv(at));
    return typeof incarnation === 'string' ? { tenant, id, incarnation } : null;
  }

  /**
   * Two steps over the buckets: each names its next live ids with what they cost a page, the
   * merge picks the page (by count and by bytes), then the picked sessions are fetched, bucket
   * by bucket. A session that went between the steps is left out.
   */
  async list(tenant: string, now: number, limit: number, after: string | null): Promise<SessionPage> {
    checkTenant(tenant);
    const budget = limit + 1000;
    const answers = await Promise.all(
      BUCKET_TAGS.map(async (tag, bucket) => {
        const [found, frontier] = (await this.call('rtListIds', [
          bucketKey(this.prefix, 'ids', bucket, tenant),
          bucketKey(this.prefix, 'exp', bucket, tenant),
          ...listIdsArgv({ prefix: this.prefix, tag, tenant, now, limit, after, budget, itemOverheadBytes: LIST_ITEM_OVERHEAD_BYTES }),
        ])) as [string[], string];
        return { found, frontier: frontier === '' ? null : frontier };
      }),
    );
    // Past the nearest frontier some bucket may still hold ids: the page ends there at the latest.
    const frontiers = answers.flatMap((a) => (a.frontier === null ? [] : [a.frontier]));
    const horizon = frontiers.length > 0 ? frontiers.reduce((a, b) => (b < a ? b : a)) : null;
    const candidates: { id: string; bytes: number }[] = [];
    for (const { found } of answers) {
      for (let i = 0; i < found.length; i += 2) {
        if (horizon === null || found[i] <= horizon) candidates.push({ id: found[i], bytes: Number(found[i + 1]) });
      }
    }
    candidates.sort((a, b) => (a.id < b.id ? -1 : 1));
    let taken = 0;
    let bytes = 0;
    while (taken < candidates.length && taken < limit && (taken === 0 || bytes < LIST_PAGE_MAX_BYTES)) bytes += candidates[taken++].bytes;
    const page = candidates.slice(0, taken).map((c) => c.id);
    const more = taken < candidates.length || horizon !== null;
    return { items: await this.fetch(tenant, page, now), after: more ? (page[page.length - 1] ?? horizon) : null };
  }

  /** The sessions with these ids (in this order), those still live. */
  private async fetch(tenant: string, ids: string[], now: number): Promise<Session[]> {
    const byBucket = new Map<number, string[]>();
    for (const id of ids) {
      const bucket = bucketOf(tenant, id);
      byBucket.set(bucket, [...(byBucket.get(bucket) ?? []), id]);
    }
    const found = new Map<string, Session>();
    await Promise.all(
      [...byBucket].map(async ([, inBucket]) => {
        const keys = inBucket.flatMap((id) => sessionKeys(this.prefix, tenant, id).slice(0, 3));
        const items = (await this.call('rtListFetch', [keys.length, ...keys, String(Math.floor(now))])) as (RawSession | [])[];
        items.forEach((raw, i) => {
          if (raw.length > 0) found.set(inBucket[i], toSession(tenant, inBucket[i], raw as RawSession));
        });
      }),
    );
    return ids.flatMap((id) => found.get(id) ?? []);
  }

  async storageState(tenant: string, id: string, now: number): Promise<{ state: StateSnapshot | null } | null> {
    const at = this.at(tenant, id, now);
    const reply = (await this.run('rtStorageState', at, sessionArgv(at))) as unknown[];
    if (Number(reply[0]) !== 1) return null;
    return { state: Number(reply[1]) === 1 ? { json: String(reply[2]), seq: Number(reply[3]) } : null };
  }

  /** Sweeps bucket by bucket, batch by batch, one script each, yielding in between. */
  async sweep(now: number, listener?: SweepListener): Promise<number> {
    let total = 0;
    for (let bucket = 0; bucket < BUCKETS; bucket++) {
      for (;;) {
        const [examined, expired, swept, held] = (await this.call('rtSweep', [
          ...this.bucketSweepKeys(bucket),
          ...sweepArgv({ prefix: this.prefix, tag: BUCKET_TAGS[bucket], now, batch: this.sweepBatch, report: listener !== undefined }),
        ])) as [number, number, string[], string[]];
        total += Number(expired);
        if (listener) {
          for (const member of held) {
            const [tenant, id, incarnation] = member.split('|');
            listener({ tenant, id, incarnation }, false);
          }
          for (let i = 0; i < swept.length; i += 3) {
            listener({ tenant: swept[i], id: swept[i + 1], incarnation: swept[i + 2] }, true);
          }
        }
        if (Number(examined) < this.sweepBatch && held.length < this.sweepBatch) break;
        await yieldToEventLoop();
      }
    }
    return total;
  }

  /** The buckets' aggregates added up; the recent render times are the most recent of them all. */
  async metrics(now: number, tenant?: string): Promise<BackendMetrics> {
    if (tenant !== undefined) checkTenant(tenant);
    const answers = await Promise.all(BUCKET_TAGS.map((_, bucket) => this.bucketMetrics(bucket, now, tenant)));
    const sum = (field: string): number => answers.reduce((total, [, stats]) => total + Number(stats[field] ?? 0), 0);
    const recent = answers
      .flatMap(([, , samples]) => samples.map((sample) => sample.split('|').map(Number)))
      .sort(([a], [b]) => a - b)
      .slice(-GLOBAL_RENDER_SAMPLES);
    return {
      activeSessions: answers.reduce((total, [live]) => total + live, 0),
      totalRequests: sum('requests'),
      totalRenderTimeMs: sum('render_ms'),
      renderCount: sum('renders'),
      sumCreatedAt: sum('sum_created'),
      recentRenderTimes: recent.map(([, renderMs]) => renderMs),
      createdTotal: sum('created'),
      expiredTotal: sum('expired'),
      removedTotal: sum('removed'),
      storedBytes: sum('bytes'),
    };
  }

  /**
   * One bucket's live count, stats and samples. The script sweeps a batch first (sum_created
   * must cover live sessions only); only when more is due than one batch does it take more.
   */
  private async bucketMetrics(bucket: number, now: number, tenant?: string): Promise<[number, Record<string, string>, string[]]> {
    for (;;) {
      const reply = (await this.call('rtMetrics', [
        ...this.bucketSweepKeys(bucket),
        bucketKey(this.prefix, 'exp', bucket, tenant),
        bucketKey(this.prefix, 'stats', bucket, tenant),
        bucketKey(this.prefix, 'times', bucket, tenant),
        ...metricsArgv({ prefix: this.prefix, tag: BUCKET_TAGS[bucket], now, batch: this.sweepBatch }),
      ])) as [number, number?, string[]?, string[]?];
      if (Number(reply[0]) === 1) return [Number(reply[1]), toRecord(reply[2]!), reply[3]!];
      await this.sweep(now);
    }
  }

  async ping(): Promise<void> {
    this.assertReady();
    try {
      await this.redis.ping();
    } catch (err) {
      throw translate(err);
    }
  }

  /** The twelve keys of a per-session script (see lua/key-layout.ts). */
  sessionKeys(tenant: string, id: string): string[] {
    return sessionKeys(this.prefix, tenant, id);
  }

  private bucketSweepKeys(bucket: number): string[] {
    return ['exp', 'stats', 'unreported'].map((kind) => bucketKey(this.prefix, kind, bucket));
  }

  private at(tenant: string, id: string, now: number): SessionArgs {
    return { tenant, id, now, graceMs: this.graceMs, otherBytes: this.otherBytes(tenant, bucketOf(tenant, id)) };
  }

  /**
   * The tenant's stored bytes in the buckets other than `bucket`, as this instance last heard
   * (every operation's reply reports its own bucket); re-read in the background when older
   * than bytesRefreshMs, never on the request path.
   */
  private otherBytes(tenant: string, bucket: number): number {
    const known = this.knownBytes(tenant);
    if (Date.now() - known.at > this.bytesRefreshMs && !known.refreshing) {
      void this.refreshBuckets(tenant).catch((err: unknown) => this.logger.debug?.(`bytes refresh failed: ${String(err)}`));
    }
    return known.perBucket.reduce((total, bytes, b) => (b === bucket ? total : total + bytes), 0);
  }

  private knownBytes(tenant: string): TenantBytes {
    let known = this.bytes.get(tenant);
    if (!known) this.bytes.set(tenant, (known = { perBucket: new Array<number>(BUCKETS).fill(0), at: 0, refreshing: false }));
    return known;
  }

  private heardBytes(tenant: string, bucket: number, bytes: number): void {
    this.knownBytes(tenant).perBucket[bucket] = bytes;
  }

  /**
   * Reads every bucket's counts of the tenant and in all: refreshes the bytes cache and brings
   * the seat counters' mirrors up to date (settling without a token).
   */
  private async refreshBuckets(tenant: string): Promise<void> {
    const known = this.knownBytes(tenant);
    known.refreshing = true;
    try {
      const reports = await Promise.all(
        BUCKET_TAGS.map(async (_, bucket) => {
          const keys = [
            bucketKey(this.prefix, 'stats', bucket, tenant),
            bucketKey(this.prefix, 'stats', bucket),
            bucketKey(this.prefix, 'unsettled', bucket, tenant),
            bucketKey(this.prefix, 'unsettled', bucket),
          ];
          const report = (await this.call('rtBucketReport', keys)) as BucketReport;
          this.heardBytes(tenant, bucket, Number(report[0]));
          return bucketCounts(bucket, report);
        }),
      );
      await Promise.all([
        this.call('rtSeatSettle', [...seatKeys(this.prefix, tenant), ...seatSettleArgv(null, reports.map((r) => r.tenant))]),
        this.call('rtSeatSettle', [...seatKeys(this.prefix), ...seatSettleArgv(null, reports.map((r) => r.all))]),
      ]);
      known.at = Date.now();
    } finally {
      known.refreshing = false;
    }
  }

  /** At a cap: drop what expired, then mirror every bucket into the seats and the bytes cache. */
  private async catchUp(tenant: string, now: number): Promise<void> {
    await this.sweep(now);
    await this.refreshBuckets(tenant);
  }

  /**
   * Takes a seat under the tenant's cap and under the global one (both at once, in their own
   * slots); a refusal gives back the other one.
   */
  private async takeSeat(
    tenant: string,
    limits: CapacityLimits,
    now: number,
  ): Promise<{ kind: 'seat'; seat: Seat } | { kind: 'tenant_quota' | 'capacity'; live: number; max: number }> {
    checkTenant(tenant);
    const token = newIncarnation();
    const seat: Seat = { token, tenantKeys: seatKeys(this.prefix, tenant), globalKeys: seatKeys(this.prefix) };
    const take = (keys: [string, string], max: number) =>
      this.call('rtSeatTake', [...keys, ...seatTakeArgv({ now, leaseMs: this.seatLeaseMs, token, max, buckets: BUCKETS })]) as Promise<
        [number, number]
      >;
    const [inTenant, inAll] = await Promise.all([take(seat.tenantKeys, limits.maxPerTenant), take(seat.globalKeys, limits.maxSessions)]);
    if (Number(inTenant[0]) === 1 && Number(inAll[0]) === 1) return { kind: 'seat', seat };
    this.settle(seat, null, null);
    return Number(inTenant[0]) === 1
      ? { kind: 'capacity', live: Number(inAll[1]), max: limits.maxSessions }
      : { kind: 'tenant_quota', live: Number(inTenant[1]), max: limits.maxPerTenant };
  }

  /**
   * A per-session script run on a seat: whatever it answers, the seat is then settled with the
   * bucket's counts (released, and the create's session counted in the bucket's mirror, in one
   * step); without a report (the script failed), released only.
   */
  private async seated(seat: Seat, at: SessionArgs, name: SessionScriptName, argv: string[]): Promise<unknown> {
    let report: BucketReport | null = null;
    try {
      return await this.run(name, at, argv, (heard) => (report = heard));
    } finally {
      this.settle(seat, bucketOf(at.tenant, at.id), report);
    }
  }

  /** Sent without being waited for: the answer does not depend on it (an unsettled seat lapses). */
  private settle(seat: Seat, bucket: number | null, report: BucketReport | null): void {
    const counts = report && bucket !== null ? bucketCounts(bucket, report) : null;
    void Promise.all([
      this.call('rtSeatSettle', [...seat.tenantKeys, ...seatSettleArgv(seat.token, counts ? [counts.tenant] : [])]),
      this.call('rtSeatSettle', [...seat.globalKeys, ...seatSettleArgv(seat.token, counts ? [counts.all] : [])]),
      // Only while Redis is away (logged once as such): the lease then lapses by itself.
    ]).catch((err: unknown) => this.logger.debug?.(`could not settle a session seat (it lapses): ${String(err)}`));
  }

  /**
   * A per-session script: its keys from `at`, then `argv` (built by the script's own argv
   * function). Hears the bucket's report (bytes cache; `onReport` for seats), answers the result.
   */
  private async run(
    name: SessionScriptName,
    at: SessionArgs,
    argv: string[],
    onReport?: (report: BucketReport) => void,
  ): Promise<unknown> {
    const [result, report] = (await this.call(name, [...this.sessionKeys(at.tenant, at.id), ...argv])) as [unknown, BucketReport];
    this.heardBytes(at.tenant, bucketOf(at.tenant, at.id), Number(report[0]));
    onReport?.(report);
    return result;
  }

  private async call(name: SessionScriptName, args: (string | number)[]): Promise<unknown> {
    this.assertReady();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.scripts[name](...args);
      } catch (err) {
        // ioredis answers NOSCRIPT by sending the script once more; another SCRIPT FLUSH (or a
        // new primary without the script) in between can answer NOSCRIPT again. The script did
        // not run, so sending it again is safe.
        if (attempt < NOSCRIPT_ATTEMPTS && err instanceof ReplyError && (err as Error).message.startsWith('NOSCRIPT')) continue;
        throw translate(err);
      }
    }
  }

  /** Fails fast (503) rather than queue while disconnected, on one node and on a Cluster alike. */
  private assertReady(): void {
    if (this.redis.status !== 'ready') throw translate(this.lastError ?? new Error(`redis connection is ${this.redis.status}`));
  }

  private maybeSession(tenant: string, id: string, reply: unknown): Session | null {
    const raw = reply as RawSession | [];
    return raw.length === 0 ? null : toSession(tenant, id, raw as RawSession);
  }
}


/** A bucket's report as the tenant's and the global seat counters mirror it. */
function bucketCounts(bucket: number, report: BucketReport): { tenant: BucketCount; all: BucketCount } {
  const [, tenantCreated, tenantDropped, tenantSeats, created, dropped, seats] = report;
  return {
    tenant: { bucket, created: Number(tenantCreated), dropped: Number(tenantDropped), seats: tenantSeats },
    all: { bucket, created: Number(created), dropped: Number(dropped), seats },
  };
}

const isRefusal = (outcome: CreateOutcome): outcome is CreateRefusal => outcome.kind !== 'created' && outcome.kind !== 'exists';

/** A connection-level failure (or Redis refusing to serve) becomes a 503; anything else is a bug. */
export function translate(err: unknown): Error {
  if (err instanceof BackendUnavailableError) return err;
  if (err instanceof ReplyError) {
    const refusal = UNAVAILABLE_REPLY.exec((err as Error).message);
    return refusal ? new BackendUnavailableError(err as Error, refusal[1]) : (err as Error);
  }
  const cause = err instanceof Error ? err : new Error(String(err));
  const code = (cause as { code?: unknown }).code;
  if (typeof code === 'string') return new BackendUnavailableError(cause, code);
  // ioredis' own errors carry no errno: a timeout, or a connection that is closed or closing.
  return new BackendUnavailableError(cause, /timed out/i.test(cause.message) ? 'ETIMEDOUT' : 'ENOTCONN');
}

/** A new incarnation's token is drawn for every call that may create: the script keeps it only if it does. */
function insertArgs(init: NewSession, limits: CapacityLimits, seatToken: string, seatLeaseMs: number): InsertArgs {
  const { config } = init;
  return {
    ttlSeconds: config.ttlSeconds,
    autoRenew: config.autoRenew,
    maxRequests: config.maxRequests,
    trackMetrics: config.trackMetrics,
    proxyJson: config.proxy ? proxyJson(config.proxy) : '',
    maxBytesPerTenant: limits.maxBytesPerTenant,
    seatToken,
    seatLeaseMs,
    incarnation: newIncarnation(),
    metadata: Object.entries(init.metadata ?? {}),
  };
}

function refusal(reply: unknown[]): CreateRefusal {
  const kind = reply[0];
  if (kind === 'bytes_quota') return { kind, bytes: Number(reply[1]), max: Number(reply[2]) };
  if (kind !== 'tenant_quota' && kind !== 'capacity') throw new Error(`unexpected reply from redis: ${String(kind)}`);
  return { kind, live: Number(reply[1]), max: Number(reply[2]) };
}

function toRecord(flat: string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) {
    // A metadata key may be "__proto__" (JSON.parse makes it an own property); keep it one.
    if (flat[i] === '__proto__') {
      Object.defineProperty(record, flat[i], { value: flat[i + 1], enumerable: true, writable: true, configurable: true });
    } else record[flat[i]] = flat[i + 1];
  }
  return record;
}

function toSession(tenant: string, id: string, [sessionFlat, metadataFlat, times]: RawSession): Session {
  const h = toRecord(sessionFlat);
  return {
    tenant,
    id,
    incarnation: h.i,
    createdAt: Number(h.c),
    lastAccessed: Number(h.a),
    expiresAt: Number(h.e),
    config: {
      ttlSeconds: Number(h.ttl),
      autoRenew: h.ar === '1',
      maxRequests: Number(h.mr),
      trackMetrics: h.tm === '1',
      ...(h.px !== undefined && { proxy: JSON.parse(h.px) as UpstreamProxy }),
    },
    requestCount: Number(h.rq),
    errorCount: Number(h.er),
    lastUrl: h.lu ?? null,
    lastError: h.le ?? null,
    totalRenderTimeMs: Number(h.trt),
    renderCount: Number(h.rn),
    renderTimes: times.map(Number),
    metadata: toRecord(metadataFlat),
  };
}
