import {
  BadRequestException,
  BeforeApplicationShutdown,
  ConflictException,
  Inject,
  Injectable,
  Logger,
  OnModuleInit,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { WebSocket, WebSocketServer } from 'ws';
import { Clock } from '../common/clock';
import { acceptUpgrade, upgradeRefusal } from '../common/websocket-upgrade';
import { AppConfig } from '../config/app-config';
import { CdpEndReason, CdpMetricsRecorder } from '../metrics/cdp-metrics.recorder';
import type { Renderer } from '../render/renderer-pool';
import { CDP_MAX_MESSAGE_BYTES } from '../renderer-rpc';
import { HeldLock, SESSION_LOCKS, SessionLocks, whenSessionFree } from '../session/locks/session-locks';
import { Session } from '../session/session';
import { RequestLimitReached } from '../session/session.errors';
import { SessionStore } from '../session/session.store';
import { CdpCapacityReached, CdpRendererClient } from './cdp-renderer.client';
import { CLOSE_GOING_AWAY, CLOSE_POLICY, CdpProxy } from './cdp-proxy';

/**
 * The connection lock's lease: a killed API instance's lock is free this long after its last
 * refresh, which comes every third of it while connected.
 */
export const CDP_LOCK_LEASE_MS = 6000;
/** The lease while the browser is started (the connection's refreshes shorten it to CDP_LOCK_LEASE_MS). */
const START_LEASE_MS = 60_000;
/** The lease while the state is saved (ending the browser and writing the state). */
const SAVE_LEASE_MS = 60_000;
/** An auto-renew session is touched at least this often while connected (and every ttl/6). */
const TOUCH_EVERY_MS = 30_000;

/** One open connection: what the watchers and the save need. */
interface Live {
  session: Session;
  lock: HeldLock;
  proxy: CdpProxy;
  renderer: Renderer;
  key: string;
  /** The session's expires_at as last seen (for telling expiry from deletion). */
  expiresAt: number;
  /** Time from the connect request to the upgrade: recorded as the request's time. */
  setupMs: number;
  openedAt: number;
}

/** A session whose request is reserved and whose browser runs, its socket open, before the client's upgrade. */
interface Prepared {
  session: Session;
  renderer: Renderer;
  key: string;
  upstream: WebSocket;
}

const liveKey = (tenant: string, id: string): string => `${tenant}\0${id}`;
/** How often a session is looked at: min(30 s, ttl/6) (see watchDelay). */
const touchEvery = (session: Session): number => Math.min(TOUCH_EVERY_MS, (session.config.ttlSeconds * 1000) / 6);

/**
 * `GET /v1/sessions/:id/cdp`: a client's own Playwright or Puppeteer driving its session's
 * browser. Before the upgrade: the session's lock (409), one request reserved (429), a browser
 * started on its renderer with the session's saved state (503 at capacity); refusals after the
 * reservation give the request back. While connected: the lease refreshed, an auto-renew
 * session touched, a session that expires or is deleted closes the connection (1008). At the
 * end, however it comes: the browser's final state saved to the session, then the lock freed.
 */
@Injectable()
export class CdpGateway implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger(CdpGateway.name);
  private readonly sockets = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: CDP_MAX_MESSAGE_BYTES });
  private readonly live = new Map<string, Live>();
  private readonly finishing = new Set<Promise<void>>();

  constructor(
    private readonly config: AppConfig,
    private readonly sessions: SessionStore,
    @Inject(SESSION_LOCKS) private readonly locks: SessionLocks,
    private readonly renderers: CdpRendererClient,
    private readonly clock: Clock,
    private readonly metrics: CdpMetricsRecorder,
  ) {}

  onModuleInit(): void {
    // A DELETE (or a sweep) on this instance closes at once; on another one, the watcher sees it.
    this.sessions.onRemoved((ref) => {
      const live = this.live.get(liveKey(ref.tenant, ref.id));
      if (live?.session.incarnation === ref.incarnation) this.closeGone(live);
    });
  }

  async connect(tenant: string, id: string, request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const refusal = upgradeRefusal(request);
    if (refusal) throw new BadRequestException(refusal);
    const started = Date.now();
    let lock: HeldLock;
    try {
      lock = await whenSessionFree(this.locks, tenant, id, () => this.locks.acquire(tenant, id, START_LEASE_MS));
    } catch (err) {
      if (err instanceof ConflictException) this.metrics.rejected('in_use');
      throw err;
    }
    let prepared: Prepared;
    try {
      prepared = await this.prepare(tenant, id, request, reply);
    } catch (err) {
      await this.release(lock);
      throw err;
    }
    const { session, renderer, key, upstream } = prepared;
    const client = await acceptUpgrade(this.sockets, request, reply);
    if (!client) {
      // Gone before the upgrade: nothing was done in the browser, and the request is given back.
      upstream.close();
      await this.renderers.end(renderer, key);
      await this.refund(tenant, id);
      await this.release(lock);
      return;
    }
    const proxy = new CdpProxy(client, upstream, {
      idleMs: this.config.cdp_idle_seconds * 1000,
      maxMs: this.config.cdp_max_seconds * 1000,
    });
    const live: Live = { session, lock, proxy, renderer, key, expiresAt: session.expiresAt, setupMs: Date.now() - started, openedAt: Date.now() };
    this.live.set(liveKey(tenant, id), live);
    this.metrics.opened();
    const finished = this.run(live).finally(() => this.finishing.delete(finished));
    this.finishing.add(finished);
  }

  /** Closes every connection, saving each one's state, before the process stops. */
  async beforeApplicationShutdown(): Promise<void> {
    for (const live of this.live.values()) live.proxy.close('shutdown', CLOSE_GOING_AWAY, 'server shutting down');
    await Promise.all(this.finishing);
    this.sockets.close();
  }

  /** Reserves the request and starts the browser; everything after the reservation is refunded on failure. */
  private async prepare(tenant: string, id: string, request: FastifyRequest, reply: FastifyReply): Promise<Prepared> {
    let reserved;
    try {
      reserved = await this.sessions.reserveRequest(tenant, id);
    } catch (err) {
      if (err instanceof RequestLimitReached) {
        this.metrics.rejected('request_limit');
        reply.header('RateLimit-Limit', err.max).header('RateLimit-Remaining', 0);
      }
      throw err;
    }
    const { session, stateSeq } = reserved;
    const key = this.renderers.keyOf(session);
    const starting = this.keepAliveWhileStarting(session);
    let renderer: Renderer | undefined;
    try {
      const storageState = stateSeq !== null ? await this.sessions.storageState(tenant, id) : null;
      renderer = await this.renderers.start(
        key,
        {
          ...(storageState && { storage_state: JSON.parse(storageState.json), state_seq: storageState.seq }),
          ...(session.config.proxy && { proxy: { ...session.config.proxy } }),
        },
        request.id,
      );
      const upstream = await this.renderers.open(renderer, key);
      return { session: starting.stop(), renderer, key, upstream };
    } catch (err) {
      starting.stop();
      if (renderer) void this.renderers.end(renderer, key);
      this.metrics.rejected(err instanceof CdpCapacityReached ? 'capacity' : 'error');
      await this.refund(tenant, id);
      throw err;
    }
  }

  /**
   * Touches an auto-renew session while its browser starts, as the connection will once it is
   * open: a launch on a busy renderer can outlast a short TTL. stop() answers the session as
   * last touched.
   */
  private keepAliveWhileStarting(session: Session): { stop(): Session } {
    if (!session.config.autoRenew) return { stop: () => session };
    let latest = session;
    const timer = setInterval(() => {
      this.sessions.touch(session.tenant, session.id).then(
        (touched) => {
          if (touched.incarnation === session.incarnation) latest = touched;
        },
        () => undefined, // gone or backend away: the connection's own watch decides once it is open
      );
    }, touchEvery(session));
    return {
      stop: () => {
        clearInterval(timer);
        return latest;
      },
    };
  }

  /** Keeps the connection's lease and session alive until it ends, then saves its state. */
  private async run(live: Live): Promise<void> {
    const { tenant, id } = live.session;
    let lastRefresh = Date.now();
    const lease = setInterval(() => {
      this.locks.refresh(live.lock, 'connected', CDP_LOCK_LEASE_MS).then(
        (ours) => {
          if (ours) lastRefresh = Date.now();
          else live.proxy.close('lock_lost', CLOSE_POLICY, 'connection lock lost');
        },
        () => {
          if (Date.now() - lastRefresh >= CDP_LOCK_LEASE_MS) live.proxy.close('lock_lost', CLOSE_POLICY, 'connection lock lost');
        },
      );
    }, CDP_LOCK_LEASE_MS / 3);
    let watch: NodeJS.Timeout | undefined;
    const scheduleWatch = (): void => {
      watch = setTimeout(() => void this.watchSession(live).then((open) => open && scheduleWatch()), this.watchDelay(live));
    };
    scheduleWatch();

    const reason = await live.proxy.ended;
    clearInterval(lease);
    clearTimeout(watch);
    try {
      await this.save(live, reason);
    } catch (err) {
      this.logger.warn({ err, session_id: id }, 'could not save the state of a CDP session');
    } finally {
      await this.release(live.lock);
      this.live.delete(liveKey(tenant, id));
      const seconds = (Date.now() - live.openedAt) / 1000;
      this.metrics.closed(reason, seconds);
      // The upgraded request left Fastify's request log when it was taken over: one line here.
      this.logger.log({ tenant, session_id: id, reason, seconds: Math.round(seconds) }, 'CDP connection ended');
    }
  }

  private async refund(tenant: string, id: string): Promise<void> {
    await this.sessions.refundRequest(tenant, id).catch((err: unknown) => this.logger.warn({ err }, 'could not refund a CDP request'));
  }

  private async release(lock: HeldLock): Promise<void> {
    await this.locks.release(lock).catch((err: unknown) => this.logger.warn({ err }, 'could not release a CDP lock'));
  }

  /**
   * Until the next look at the session: min(30 s, ttl/6) — twice as often as the contract's
   * min(30 s, ttl/3), so that one late or failed touch of a short-lived session does not let it
   * expire — and no later than its expiry without auto-renew.
   */
  private watchDelay(live: Live): number {
    const every = touchEvery(live.session);
    return live.session.config.autoRenew ? every : Math.max(0, Math.min(every, live.expiresAt - this.clock.now()));
  }

  /** Touches an auto-renew session, checks on another; false (and closed) once it is gone. */
  private async watchSession(live: Live): Promise<boolean> {
    const { tenant, id, incarnation } = live.session;
    let session: Session | null;
    try {
      session = live.session.config.autoRenew ? await this.sessions.touch(tenant, id) : await this.sessions.get(tenant, id);
    } catch (err) {
      if ((err as { status?: number }).status !== 404) return true; // backend away: the lease decides
      session = null;
    }
    if (session?.incarnation !== incarnation) {
      this.closeGone(live);
      return false;
    }
    live.session = session;
    live.expiresAt = session.expiresAt;
    return true;
  }

  private closeGone(live: Live): void {
    const expired = !live.session.config.autoRenew && this.clock.now() >= live.expiresAt;
    if (expired) live.proxy.close('expired', CLOSE_POLICY, 'session expired');
    else live.proxy.close('deleted', CLOSE_POLICY, 'session deleted');
  }

  /**
   * Ends the browser and keeps its final state on the session, numbered past whatever is
   * stored (a render of the session may have saved meanwhile), before the lock is freed. A
   * session that is gone (or was created again: another incarnation) gets nothing.
   */
  private async save(live: Live, reason: CdpEndReason): Promise<void> {
    const { tenant, id, incarnation } = live.session;
    await this.locks.refresh(live.lock, 'saving', SAVE_LEASE_MS).catch(() => false);
    const final = await this.renderers.end(live.renderer, live.key);
    if (!final?.storage_state || reason === 'deleted' || reason === 'expired') return;
    const current = await this.sessions.get(tenant, id);
    if (current?.incarnation !== incarnation) return;
    const stored = await this.sessions.storageState(tenant, id).catch(() => null);
    await this.sessions.recordResult(tenant, id, {
      url: final.final_url ?? current.lastUrl ?? 'about:blank',
      renderTimeMs: live.setupMs,
      error: null,
      storageState: {
        json: JSON.stringify(final.storage_state),
        seq: Math.max(final.state_seq ?? 1, (stored?.seq ?? 0) + 1),
      },
    });
  }
}
