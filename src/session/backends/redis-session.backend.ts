import { Logger, LoggerService, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import Redis, { ReplyError, type RedisOptions } from 'ioredis';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
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
import {
  createArgv,
  InsertArgs,
  listArgv,
  metricsArgv,
  recordArgv,
  reserveArgv,
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
  /** redis:// or rediss:// URL; a path selects the database (redis://host:6379/3). */
  url: string;
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
  logger?: LoggerService;
}

/** Reply errors that mean "Redis cannot serve now", as opposed to a bad command or script. */
const UNAVAILABLE_REPLY = /^(LOADING|BUSY|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|OOM|MISCONF)\b/;

type RawSession = [string[], string[], string[]];
type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

/**
 * Sessions in Redis, shared by any number of API instances (DESIGN §4). Each operation is one
 * Lua script (lua/session-scripts.ts has the key layout, the index design and the Cluster
 * note), sent with EVALSHA by ioredis, which falls back to EVAL on NOSCRIPT.
 *
 * Failure behaviour: no offline queue and no retries of a command, so while Redis is away an
 * operation fails at once (or after commandTimeoutMs when Redis hangs) with
 * BackendUnavailableError, which the API answers with 503. A command that was in flight when
 * the connection broke is failed, never resent: a reservation must not be applied twice. The
 * client keeps reconnecting in the background, so the backend recovers by itself.
 */
export class RedisSessionBackend implements SessionBackend, OnModuleInit, OnApplicationShutdown {
  readonly redis: Redis;
  private readonly prefix: string;
  private readonly graceMs: number;
  private readonly sweepBatch: number;
  private readonly connectTimeoutMs: number;
  private readonly logger: LoggerService;
  private readonly scripts: Record<SessionScriptName, ScriptFn>;
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
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2000;
    this.logger = options.logger ?? new Logger(RedisSessionBackend.name);
    const maxDelay = options.maxReconnectDelayMs ?? 1000;
    const redisOptions: RedisOptions = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: options.commandTimeoutMs ?? 2000,
      connectTimeout: this.connectTimeoutMs,
      retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 10), maxDelay),
      connectionName: 'riptide-api:sessions',
    };
    this.redis = new Redis(options.url, redisOptions);
    for (const [name, definition] of Object.entries(SESSION_SCRIPTS)) this.redis.defineCommand(name, definition);
    this.scripts = this.redis as unknown as Record<SessionScriptName, ScriptFn>;
    // Without an 'error' listener ioredis would print every failed reconnection attempt.
    this.redis.on('error', (err: Error) => (this.lastError = err));
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
    if (outcome.kind !== 'bytes_quota') return outcome;
    // Expired sessions hold their bytes until they are dropped (the live count has no such lag):
    // at the budget, sweep them first, as the memory backend does at any cap.
    await this.sweep(now);
    return this.createOnce(init, limits, now);
  }

  private async createOnce(init: NewSession, limits: CapacityLimits, now: number): Promise<CreateOutcome> {
    const at = this.at(init.tenant, init.id, now);
    const reply = (await this.run('rtCreate', at, createArgv(at, insertArgs(init, limits)))) as unknown[];
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

  async reserveRequest(
    tenant: string,
    id: string,
    now: number,
    createWith?: { init: NewSession; limits: CapacityLimits },
  ): Promise<ReserveOutcome> {
    if (createWith && (createWith.init.tenant !== tenant || createWith.init.id !== id)) {
      throw new Error('reserveRequest: createWith must describe the same tenant and id');
    }
    const at = this.at(tenant, id, now);
    const createMissing = createWith ? insertArgs(createWith.init, createWith.limits) : null;
    const reply = (await this.run('rtReserve', at, reserveArgv(at, createMissing))) as unknown[];
    switch (reply[0]) {
      case 'reserved':
        return {
          kind: 'reserved',
          session: toSession(tenant, id, reply[1] as RawSession),
          created: Number(reply[2]) === 1,
          storageState: Number(reply[3]) === 1 ? { json: String(reply[4]), seq: Number(reply[5]) } : null,
        };
      case 'limit':
        return { kind: 'limit', session: toSession(tenant, id, reply[1] as RawSession) };
      case 'not_found':
        return { kind: 'not_found' };
      default:
        return refusal(reply);
    }
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

  async list(tenant: string, now: number, limit: number, after: string | null): Promise<SessionPage> {
    checkTenant(tenant);
    const t = `{${tenant}}`;
    const budget = limit + 1000;
    const reply = (await this.call('rtList', [
      `${this.prefix}ids:${t}`,
      `${this.prefix}exp:${t}`,
      ...listArgv({
        prefix: this.prefix,
        tenant,
        now,
        limit,
        after,
        budget,
        pageBytes: LIST_PAGE_MAX_BYTES,
        itemOverheadBytes: LIST_ITEM_OVERHEAD_BYTES,
      }),
    ])) as [[...RawSession, string][], number, string];
    const items = reply[0].map(([flat, metadata, times, sid]) => toSession(tenant, sid, [flat, metadata, times]));
    return { items, after: Number(reply[1]) === 1 ? String(reply[2]) : null };
  }

  async storageState(tenant: string, id: string, now: number): Promise<{ state: StateSnapshot | null } | null> {
    const at = this.at(tenant, id, now);
    const reply = (await this.run('rtStorageState', at, sessionArgv(at))) as unknown[];
    if (Number(reply[0]) !== 1) return null;
    return { state: Number(reply[1]) === 1 ? { json: String(reply[2]), seq: Number(reply[3]) } : null };
  }

  /** Sweeps batch by batch, one script each, yielding in between. */
  async sweep(now: number, listener?: SweepListener): Promise<number> {
    let total = 0;
    for (;;) {
      const [examined, expired, swept, held] = (await this.call('rtSweep', [
        `${this.prefix}exp`,
        `${this.prefix}stats`,
        `${this.prefix}unreported`,
        ...sweepArgv({ prefix: this.prefix, now, batch: this.sweepBatch, report: listener !== undefined }),
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
      if (Number(examined) < this.sweepBatch && held.length < this.sweepBatch) return total;
      await yieldToEventLoop();
    }
  }

  async metrics(now: number, tenant?: string): Promise<BackendMetrics> {
    // The script sweeps a batch first (sum_created must cover live sessions only); only when
    // more is due than one batch does it take more than one round trip.
    if (tenant !== undefined) checkTenant(tenant);
    const scope = tenant === undefined ? '' : `:{${tenant}}`;
    let reply: [number, number?, string[]?, string[]?];
    for (;;) {
      reply = (await this.call('rtMetrics', [
        `${this.prefix}exp`,
        `${this.prefix}stats`,
        `${this.prefix}unreported`,
        `${this.prefix}exp${scope}`,
        `${this.prefix}stats${scope}`,
        `${this.prefix}times${scope}`,
        ...metricsArgv({ prefix: this.prefix, now, batch: this.sweepBatch }),
      ])) as typeof reply;
      if (Number(reply[0]) === 1) break;
      await this.sweep(now);
    }
    const [, live, statsFlat, recent] = reply as [number, number, string[], string[]];
    const stats = toRecord(statsFlat);
    const num = (field: string): number => Number(stats[field] ?? 0);
    return {
      activeSessions: Number(live),
      totalRequests: num('requests'),
      totalRenderTimeMs: num('render_ms'),
      renderCount: num('renders'),
      sumCreatedAt: num('sum_created'),
      recentRenderTimes: recent.map(Number),
      createdTotal: num('created'),
      expiredTotal: num('expired'),
      removedTotal: num('removed'),
      storedBytes: num('bytes'),
    };
  }

  async ping(): Promise<void> {
    if (this.redis.status !== 'ready') {
      throw translate(this.lastError ?? new Error(`redis connection is ${this.redis.status}`));
    }
    try {
      await this.redis.ping();
    } catch (err) {
      throw translate(err);
    }
  }

  /** The twelve keys of a per-session script (see lua/session-scripts.ts). */
  sessionKeys(tenant: string, id: string): string[] {
    return sessionKeys(this.prefix, tenant, id);
  }

  private at(tenant: string, id: string, now: number): SessionArgs {
    return { tenant, id, now, graceMs: this.graceMs };
  }

  /** A per-session script: its keys from `at`, then `argv` (built by the script's own argv function). */
  private run(name: SessionScriptName, at: SessionArgs, argv: string[]): Promise<unknown> {
    return this.call(name, [...this.sessionKeys(at.tenant, at.id), ...argv]);
  }

  private async call(name: SessionScriptName, args: (string | number)[]): Promise<unknown> {
    try {
      return await this.scripts[name](...args);
    } catch (err) {
      throw translate(err);
    }
  }

  private maybeSession(tenant: string, id: string, reply: unknown): Session | null {
    const raw = reply as RawSession | [];
    return raw.length === 0 ? null : toSession(tenant, id, raw as RawSession);
  }
}

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

/**
 * The KEYS of a per-session script: the session's own four keys, all under the hash tag
 * {tenant:id} (one Cluster slot), then the tenant's two index keys, the three global keys,
 * the tenant's stats hash and recent render times, and the removals held for the next
 * reporting sweep.
 */
export function sessionKeys(prefix: string, tenant: string, id: string): string[] {
  checkTenant(tenant);
  if (/[{}|]/.test(id)) throw new Error(`session id '${id}' cannot be stored in redis (braces or '|')`);
  const tag = `{${tenant}:${id}}`;
  return [
    `${prefix}sess:${tag}`,
    `${prefix}meta:${tag}`,
    `${prefix}times:${tag}`,
    `${prefix}state:${tag}`,
    `${prefix}ids:{${tenant}}`,
    `${prefix}exp:{${tenant}}`,
    `${prefix}exp`,
    `${prefix}stats`,
    `${prefix}times`,
    `${prefix}stats:{${tenant}}`,
    `${prefix}times:{${tenant}}`,
    `${prefix}unreported`,
  ];
}

function checkTenant(tenant: string): void {
  // ':' separates tenant and id inside the hash tag; braces would end the tag; '|' the index member.
  if (/[{}|:]/.test(tenant)) throw new Error(`tenant '${tenant}' cannot be stored in redis`);
}

/** A new incarnation's token is drawn for every call that may create: the script keeps it only if it does. */
function insertArgs(init: NewSession, limits: CapacityLimits): InsertArgs {
  const { config } = init;
  return {
    ttlSeconds: config.ttlSeconds,
    autoRenew: config.autoRenew,
    maxRequests: config.maxRequests,
    trackMetrics: config.trackMetrics,
    proxyJson: config.proxy ? proxyJson(config.proxy) : '',
    maxSessions: limits.maxSessions,
    maxPerTenant: limits.maxPerTenant,
    maxBytesPerTenant: limits.maxBytesPerTenant,
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
