import {
  BadGatewayException,
  BadRequestException,
  GatewayTimeoutException,
  HttpException,
  Inject,
  Injectable,
  Logger,
  OnModuleInit,
  Optional,
  ServiceUnavailableException,
  UnprocessableEntityException,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { Clock } from '../common/clock';
import { DEFAULT_TENANT } from '../auth/tenant.decorator';
import { RenderMetricsRecorder } from '../metrics/render-metrics.recorder';
import { Session, SessionRef } from '../session/session';
import { SessionStore } from '../session/session.store';
import { awaitSessionFree, SESSION_LOCKS, SessionLocks } from '../session/locks/session-locks';
import {
  decodeRenderParts,
  RENDER_PART_LENGTHS_HEADER,
  RENDER_PARTS_TYPE,
  RenderErrorResponse,
  RenderParts,
  RenderPartsError,
  refusedBeforeStart,
  withSavedState,
  withStateLeftOut,
} from '../renderer-rpc';
import { retryLater } from '../common/retry-after';
import { readCappedBody } from './capped-body';
import { Renderer, RendererPool } from './renderer-pool';
import type { RenderConfig } from './render.types';

/** How long past the hard cap we wait for the renderer's own 504 before giving up on it. */
const RPC_MARGIN_MS = 2000;
/** Room for the answer's fields and framing around the parts the renderer counts against its cap (url, times). */
const RESPONSE_ENVELOPE_BYTES = 64 * 1024;

/** A reservation made before the render (by RequestLimitGuard or renderDynamicWithSession). */
export interface SessionReservation {
  tenant: string;
  session: Session;
  /** The order number of the session's saved browser state; null: none. */
  stateSeq: number | null;
}

export interface SessionRender {
  parts: RenderParts;
  session: Session | null;
  /** Whether the render's browser state was kept (see RecordedRender); null without one. */
  stateSaved: boolean | null;
}

/**
 * A render's body for the renderer: `text`, and for a session with a saved state left out of
 * it, the body with the state (read then: it may be newer than the seq `text` carries), sent to
 * a renderer that answers `state_required`.
 */
interface RenderPayload {
  text: string;
  withState: (() => Promise<string>) | null;
}

/** A failure to reach a renderer at all: nothing was sent, so another renderer may be tried. */
class Unreachable extends Error {}

/**
 * A renderer refused the render without running it (refusedBeforeStart: busy, draining, no
 * browser, its framework closing): try the next.
 */
class NotRun extends Error {}

/**
 * No renderer ran the render: every one was unreachable or refused it. Waiting clears this, so
 * it carries Retry-After; a session request reserved for it is given back.
 */
class NoRendererRan extends ServiceUnavailableException {
  constructor(message: string) {
    super(message);
    retryLater(this, NO_RENDERER_RETRY_AFTER_SECONDS);
  }
}

const NO_RENDERER_RETRY_AFTER_SECONDS = 1;

/**
 * The API's client to its renderers (RipTide's RpcClient): picks the session's renderer by
 * rendezvous hashing, restores the session's browser state there when its context is cold,
 * records every outcome on the session, and maps renderer failures onto 502/503/504.
 */
@Injectable()
export class RpcClient implements OnModuleInit {
  private readonly logger = new Logger(RpcClient.name);

  constructor(
    private readonly renderers: RendererPool,
    private readonly sessions: SessionStore,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    @Inject(SESSION_LOCKS) private readonly locks: SessionLocks,
    @Optional() private readonly metrics?: RenderMetricsRecorder,
  ) {}

  onModuleInit(): void {
    this.sessions.onRemoved((removed) => void this.closeSessionContext(removed));
  }

  /** A render without a session: a throwaway browser context. */
  renderDynamic(
    url: string,
    config: RenderConfig,
    tenant: string = DEFAULT_TENANT,
    requestId: string = randomUUID(),
  ): Promise<RenderParts> {
    const body = JSON.stringify({ ...config, url, queue_key: this.renderers.keys.queue(tenant) });
    return this.send(null, { text: body, withState: null }, requestId, this.hardCap(config));
  }

  /**
   * Reserves a request on the session (creating it if needed), renders, records the outcome.
   * 409 while the session has a CDP connection (see awaitSessionFree).
   */
  async renderDynamicWithSession(
    url: string,
    config: RenderConfig,
    sessionId: string,
    tenant: string = DEFAULT_TENANT,
    requestId: string = randomUUID(),
  ): Promise<SessionRender> {
    await awaitSessionFree(this.locks, tenant, sessionId);
    const reserved = await this.sessions.reserveRequest(tenant, sessionId);
    return this.renderReserved({ tenant, ...reserved }, url, config, requestId);
  }

  /** Renders on a session whose request was already reserved. A failure is recorded, then thrown. */
  async renderReserved(reservation: SessionReservation, url: string, config: RenderConfig, requestId: string): Promise<SessionRender> {
    const { tenant, session } = reservation;
    const started = this.clock.now();
    const key = this.renderers.keys.context(session);
    const fields = {
      ...config,
      url,
      context_key: key,
      queue_key: this.renderers.keys.queue(tenant),
      ...(session.config.proxy && { proxy: session.config.proxy }),
    };
    const { stateSeq } = reservation;
    // A saved state is read and sent only for a renderer that asks for it (state_required: the
    // session's context is not warm there); a warm context has no use for it (see withStateLeftOut).
    const payload: RenderPayload =
      stateSeq !== null
        ? {
            text: withStateLeftOut(fields, { seq: stateSeq }),
            withState: async () => withSavedState(fields, await this.sessions.storageState(tenant, session.id)),
          }
        : { text: withSavedState(fields, null), withState: null };
    try {
      const parts = await this.send(key, payload, requestId, this.hardCap(config));
      const { meta, state } = parts;
      const recorded = await this.sessions.recordResult(tenant, session.id, {
        url: meta.final_url,
        renderTimeMs: meta.render_time_ms,
        error: null,
        storageState: state !== null ? { json: state, seq: meta.state_seq as number } : undefined, // positive: decodeRenderParts checks
      });
      // No state in the answer: the renderer sends its state whenever the render changed it or
      // it is newer than the state_seq this request carried, so what the session has stored is
      // already as new as the browser's, which is what "state_saved": true tells the client.
      const stateSaved = recorded && (state === null || recorded.stateSaved);
      return { parts, session: recorded?.session ?? null, stateSaved };
    } catch (err) {
      const settle =
        err instanceof NoRendererRan
          ? this.sessions.refundRequest(tenant, session.id)
          : this.sessions.recordResult(tenant, session.id, {
              url,
              renderTimeMs: this.clock.now() - started,
              error: err instanceof HttpException ? err.message : String(err),
            });
      await settle.catch((recordErr: unknown) => this.logger.warn({ err: recordErr }, 'could not record a failed render'));
      throw err;
    }
  }

  getOrCreateSession(sessionId: string, tenant: string = DEFAULT_TENANT) {
    return this.sessions.getOrCreate(tenant, sessionId);
  }

  getSession(sessionId: string, tenant: string = DEFAULT_TENANT) {
    return this.sessions.get(tenant, sessionId);
  }

  removeSession(sessionId: string, tenant: string = DEFAULT_TENANT) {
    return this.sessions.remove(tenant, sessionId);
  }

  getSessionMetrics() {
    return this.sessions.metrics();
  }

  /** Best effort: an unreachable renderer drops idle contexts by itself. */
  async closeSessionContext(session: SessionRef): Promise<void> {
    const key = this.renderers.keys.context(session);
    const [renderer] = this.renderers.rank(key);
    try {
      const res = await renderer.pool.request({
        method: 'DELETE',
        path: `/contexts/${key}`,
        headers: this.renderers.authHeaders,
        signal: AbortSignal.timeout(5000),
      });
      await res.body.dump();
    } catch (err) {
      this.logger.debug({ err, renderer: renderer.url }, 'could not close a session context');
    }
  }

  private hardCap(config: RenderConfig): number {
    return Math.min(config.timeouts?.hard_cap_ms ?? this.config.render_timeout_ms, this.config.render_timeout_ms);
  }

  /** Every render goes through here: timed by outcome for /metrics. */
  private send(key: string | null, payload: RenderPayload, requestId: string, hardCapMs: number): Promise<RenderParts> {
    const send = () => this.sendInOrder(key, payload, requestId, hardCapMs);
    return this.metrics ? this.metrics.timeRender(send) : send();
  }

  /**
   * Tries renderers in rank order, moving on when one could not be reached or refused the
   * render without running it (busy, draining): a render that could run elsewhere does.
   */
  private async sendInOrder(key: string | null, payload: RenderPayload, requestId: string, hardCapMs: number): Promise<RenderParts> {
    let refusal: NotRun | null = null;
    for (const renderer of this.renderers.rank(key)) {
      if (!renderer.breaker.allows(this.clock.now())) continue;
      try {
        const result = await this.post(renderer, payload, requestId, hardCapMs);
        renderer.breaker.success();
        return result;
      } catch (err) {
        if (err instanceof NotRun) {
          refusal = err;
          continue;
        }
        if (!(err instanceof Unreachable)) throw err;
        renderer.breaker.failure(this.clock.now());
        this.logger.warn({ renderer: renderer.url, err: err.message }, 'renderer unreachable');
      }
    }
    this.metrics?.transportError('no_renderer');
    throw new NoRendererRan(refusal ? `renderer unavailable: ${refusal.message}` : 'no renderer is available');
  }

  private async post(renderer: Renderer, payload: RenderPayload, requestId: string, hardCapMs: number): Promise<RenderParts> {
    const timeout = hardCapMs + RPC_MARGIN_MS;
    let response;
    try {
      response = await renderer.pool.request({
        method: 'POST',
        path: '/render',
        headers: {
          ...this.renderers.authHeaders,
          'content-type': 'application/json',
          accept: RENDER_PARTS_TYPE,
          'x-request-id': requestId,
        },
        body: payload.text,
        // The renderer answers once the render is done (or its hard cap hit): the headers
        // timeout bounds the render, the body timeout the bytes after. No AbortSignal.timeout on
        // top: its signal, timer and listener cost a render about 4 % of the API's instructions
        // (callgrind, issue 10), and a request waits in the pool's queue only while all of its
        // connections are busy with renders that are themselves bounded by these timeouts.
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
    } catch (err) {
      throw this.transportError(err, timeout);
    }
    let body: Buffer;
    try {
      body = await readCappedBody(response.body, this.config.render_max_response_bytes + RESPONSE_ENVELOPE_BYTES);
    } catch (err) {
      if (err instanceof HttpException) throw err;
      throw this.transportError(err, timeout);
    }
    if (response.statusCode === 200) return this.decode(body, response.headers[RENDER_PART_LENGTHS_HEADER]);
    const refusal = parseRefusal(body);
    if (refusal?.kind === 'state_required' && payload.withState) {
      return this.post(renderer, { text: await payload.withState(), withState: null }, requestId, hardCapMs);
    }
    this.metrics?.rendererError(refusal?.kind);
    if (refusedBeforeStart(response.statusCode, refusal?.kind)) {
      throw new NotRun(refusal?.error ?? `renderer answered ${response.statusCode}`);
    }
    throw rendererError(response.statusCode, refusal ?? {});
  }

  private decode(body: Buffer, lengths: string | string[] | undefined): RenderParts {
    try {
      return decodeRenderParts(body, lengths);
    } catch (err) {
      if (!(err instanceof RenderPartsError)) throw err;
      this.metrics?.rendererError('other');
      throw new BadGatewayException(`render failed: ${err.message}`);
    }
  }

  private transportError(err: unknown, timeout: number): Error {
    const { code, cause } = err as { code?: string; cause?: { code?: string } };
    const errno = code ?? cause?.code;
    if (errno === 'ECONNREFUSED' || errno === 'UND_ERR_CONNECT_TIMEOUT' || errno === 'ENOTFOUND' || errno === 'EHOSTUNREACH') {
      this.metrics?.transportError('unreachable');
      return new Unreachable(`${errno}`);
    }
    if (errno === 'UND_ERR_HEADERS_TIMEOUT' || errno === 'UND_ERR_BODY_TIMEOUT') {
      this.metrics?.transportError('rpc_timeout');
      return new GatewayTimeoutException(`render timed out after ${timeout} ms`);
    }
    this.metrics?.transportError('connection');
    return new BadGatewayException(`renderer connection failed: ${errno ?? (err as Error).message}`);
  }
}

/** A renderer's error answer (RenderErrorResponse); null when it is not JSON at all. */
function parseRefusal(body: Buffer): Partial<RenderErrorResponse> | null {
  try {
    return JSON.parse(body.toString('utf8')) as Partial<RenderErrorResponse> | null;
  } catch {
    return null;
  }
}

function rendererError(status: number, body: Partial<RenderErrorResponse>): HttpException {
  const message = body?.error ?? `renderer answered ${status}`;
  switch (status) {
    case 400:
      return new BadRequestException(message);
    case 422:
      // The egress policy refused the page itself (a redirect, a script, a rebinding DNS answer…).
      return new UnprocessableEntityException(message);
    case 503:
      return new ServiceUnavailableException(`renderer unavailable: ${message}`);
    case 504:
      return new GatewayTimeoutException(message);
    default:
      return new BadGatewayException(`render failed: ${message}`);
  }
}
