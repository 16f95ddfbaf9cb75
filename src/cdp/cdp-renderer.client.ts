import {
  BadGatewayException,
  BadRequestException,
  Injectable,
  Logger,
  ServiceUnavailableException,
  UnprocessableEntityException,
} from '@nestjs/common';
import { WebSocket } from 'ws';
import { retryLater } from '../common/retry-after';
import { Renderer, RendererPool } from '../render/renderer-pool';
import { CDP_MAX_MESSAGE_BYTES, cdpEndPath, cdpPath, CdpEndResponse, CdpStartRequestDto, refusedBeforeStart, RenderErrorResponse } from '../renderer-rpc';
import type { SessionRef } from '../session/session';

const START_TIMEOUT_MS = 45_000;
const END_TIMEOUT_MS = 30_000;
const CAPACITY_RETRY_AFTER_SECONDS = 5;

/** No renderer could start the browser: capacity, so waiting can clear it. */
export class CdpCapacityReached extends ServiceUnavailableException {
  constructor(message: string) {
    super(message);
    retryLater(this, CAPACITY_RETRY_AFTER_SECONDS);
  }
}

/**
 * The API's side of the renderer's CDP endpoints (see cdpPath in the contract): starts a
 * session's browser on its renderer (rendezvous-ranked by context key, like renders, moving
 * on when one is unreachable or full), opens the proxied socket, and ends it for its state.
 */
@Injectable()
export class CdpRendererClient {
  private readonly logger = new Logger(CdpRendererClient.name);

  constructor(private readonly renderers: RendererPool) {}

  /** The renderer's name for the session incarnation's browser (as for its render context). */
  keyOf(session: SessionRef): string {
    return this.renderers.keys.context(session);
  }

  /** The renderer now running the key's browser. */
  async start(key: string, body: CdpStartRequestDto, requestId: string): Promise<Renderer> {
    let refusal = 'no renderer is reachable';
    for (const renderer of this.renderers.rank(key)) {
      let response;
      try {
        response = await renderer.pool.request({
          method: 'POST',
          path: cdpPath(key),
          headers: { ...this.renderers.authHeaders, 'content-type': 'application/json', 'x-request-id': requestId },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(START_TIMEOUT_MS),
        });
      } catch (err) {
        this.logger.warn({ renderer: renderer.url, err: (err as Error).message }, 'renderer unreachable for CDP');
        continue;
      }
      if (response.statusCode === 204) {
        await response.body.dump();
        return renderer;
      }
      const error = (await response.body.json().catch(() => ({}))) as Partial<RenderErrorResponse>;
      const message = error.error ?? `renderer answered ${response.statusCode}`;
      // "Not here, not now": the next renderer is tried.
      if (refusedBeforeStart(response.statusCode, error.kind)) {
        refusal = message;
        continue;
      }
      if (response.statusCode === 400) throw new BadRequestException(message);
      // The session's upstream proxy is on a host the egress policy refuses.
      if (response.statusCode === 422) throw new UnprocessableEntityException(message);
      throw new BadGatewayException(`renderer could not start the CDP browser: ${message}`);
    }
    throw new CdpCapacityReached(`no CDP browser available: ${refusal}`);
  }

  /** The proxied socket to the key's browser on `renderer`. */
  open(renderer: Renderer, key: string): Promise<WebSocket> {
    const url = `${renderer.url.replace(/^http/, 'ws')}${cdpPath(key)}`;
    const socket = new WebSocket(url, { headers: this.renderers.authHeaders, perMessageDeflate: false, maxPayload: CDP_MAX_MESSAGE_BYTES });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(socket));
      socket.once('unexpected-response', (_req, res) => {
        socket.terminate();
        reject(new BadGatewayException(`renderer refused the CDP socket (${res.statusCode})`));
      });
      socket.once('error', (err) => reject(new BadGatewayException(`renderer CDP socket failed: ${err.message}`)));
    });
  }

  /** Ends the key's browser; its final state, or null when there is none to save. */
  async end(renderer: Renderer, key: string): Promise<CdpEndResponse | null> {
    try {
      const response = await renderer.pool.request({
        method: 'POST',
        path: cdpEndPath(key),
        headers: this.renderers.authHeaders,
        signal: AbortSignal.timeout(END_TIMEOUT_MS),
      });
      if (response.statusCode !== 200) {
        await response.body.dump();
        return null;
      }
      return (await response.body.json()) as CdpEndResponse;
    } catch (err) {
      this.logger.warn({ renderer: renderer.url, err: (err as Error).message }, 'could not end a CDP browser');
      return null;
    }
  }
}
