import { WebSocket, type RawData } from 'ws';
import { CDP_CLOSED_BY_CLIENT } from '../renderer-rpc';
import type { CdpEndReason } from '../metrics/cdp-metrics.recorder';

/** WebSocket close codes the client gets. */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_POLICY = 1008;
export const CLOSE_INTERNAL = 1011;

export interface CdpProxyLimits {
  /** No client message for this long ends the connection (pings and pongs do not count). */
  idleMs: number;
  /** The longest the connection may last. */
  maxMs: number;
}

/**
 * Passes one client's CDP messages to its session's browser on the renderer and back, message
 * by message (the renderer judges each command), and decides when the connection is over:
 * the client left, the browser was closed (the client's `Browser.close`), the renderer went
 * away, idle, max duration, or whatever the owner passes to close(). `ended` resolves once,
 * with the reason, after the client's socket was told (close code and reason).
 */
export class CdpProxy {
  readonly ended: Promise<CdpEndReason>;
  private resolveEnded!: (reason: CdpEndReason) => void;
  private over = false;
  private lastClientMessage = Date.now();
  private idleTimer: NodeJS.Timeout;
  private readonly maxTimer: NodeJS.Timeout;

  constructor(
    private readonly client: WebSocket,
    private readonly upstream: WebSocket,
    private readonly limits: CdpProxyLimits,
  ) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
    client.on('message', (data, isBinary) => this.fromClient(data, isBinary));
    upstream.on('message', (data, isBinary) => {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    });
    client.on('close', () => this.close('client', CLOSE_NORMAL, ''));
    upstream.on('close', (code) =>
      code === CDP_CLOSED_BY_CLIENT
        ? this.close('browser_close', CLOSE_NORMAL, 'Browser.close')
        : this.close('renderer', CLOSE_INTERNAL, 'renderer connection lost'),
    );
    // A socket error is followed by its close event, which ends the connection.
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    this.idleTimer = setTimeout(() => this.checkIdle(), limits.idleMs);
    this.maxTimer = setTimeout(
      () => this.close('max_duration', CLOSE_POLICY, `connection reached its maximum of ${Math.round(limits.maxMs / 1000)} s`),
      limits.maxMs,
    );
    // The renderer's socket may have closed while the client's upgrade completed.
    if (upstream.readyState !== WebSocket.OPEN) this.close('renderer', CLOSE_INTERNAL, 'renderer connection lost');
  }

  /** Ends the connection (once): the client gets `code` and `reason`, the renderer's socket is closed. */
  close(why: CdpEndReason, code: number, reason: string): void {
    if (this.over) return;
    this.over = true;
    clearTimeout(this.idleTimer);
    clearTimeout(this.maxTimer);
    for (const [socket, closeCode, closeReason] of [
      [this.client, code, reason],
      [this.upstream, CLOSE_NORMAL, ''],
    ] as const) {
      if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) socket.close(closeCode, closeReason);
    }
    this.resolveEnded(why);
  }

  private fromClient(data: RawData, isBinary: boolean): void {
    this.lastClientMessage = Date.now();
    if (this.upstream.readyState === WebSocket.OPEN) this.upstream.send(data, { binary: isBinary });
  }

  private checkIdle(): void {
    const idleFor = Date.now() - this.lastClientMessage;
    if (idleFor >= this.limits.idleMs) {
      this.close('idle', CLOSE_POLICY, `idle for ${Math.round(this.limits.idleMs / 1000)} s`);
      return;
    }
    this.idleTimer = setTimeout(() => this.checkIdle(), this.limits.idleMs - idleFor);
  }
}
