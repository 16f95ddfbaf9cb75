import { WebSocket, type RawData } from 'ws';
import { CDP_CLOSED_BY_CLIENT, CDP_MAX_MESSAGE_BYTES, CdpEndResponse, StorageState } from '../renderer-rpc';
import { SessionBrowser } from './cdp-browser';
import { CDP_REFUSED_CODE, CdpCommand, CdpEgress, judgeCdpCommand, parseCdpCommand } from './cdp-filter';

const SNAPSHOT_TIMEOUT_MS = 15_000;

/**
 * One session's CDP connection on the renderer: its browser, the API's socket (the client's
 * messages) and the proxy's own socket to the browser, with every client command judged by
 * judgeCdpCommand. Ends once, however it ends (the API asks, the client sent Browser.close,
 * the API's socket went away, the browser died): the final state is read first, then the
 * browser closed, and the answer kept for the API's end call.
 */
export class CdpConnection {
  private client: WebSocket | null = null;
  private upstream: WebSocket | null = null;
  /** Client commands creating contexts, by session and id: their answers name a context to fence. */
  private readonly creatingContexts = new Set<string>();
  /** Messages to the client leave in order, also when one waits for a context to be fenced. */
  private toClient: Promise<void> = Promise.resolve();
  private ending: Promise<CdpEndResponse> | null = null;

  constructor(
    readonly browser: SessionBrowser,
    /** The restored state's order; the final snapshot is numbered one past it. */
    private readonly restoredSeq: number,
    /** The session's egress listener, which every context the client creates is pointed at. */
    private readonly egress: CdpEgress,
  ) {
    browser.onExit(() => void this.end());
  }

  get attached(): boolean {
    return this.client !== null;
  }

  get ended(): boolean {
    return this.ending !== null;
  }

  /** Opens the proxy's own socket to the browser; before the API's socket is accepted. */
  async openUpstream(): Promise<void> {
    const upstream = new WebSocket(this.browser.wsEndpoint, { perMessageDeflate: false, maxPayload: CDP_MAX_MESSAGE_BYTES });
    await new Promise<void>((resolve, reject) => {
      upstream.once('open', resolve);
      upstream.once('error', reject);
    });
    upstream.on('message', (data, isBinary) => this.fromBrowser(data, isBinary));
    upstream.on('close', () => void this.end());
    upstream.on('error', () => undefined);
    this.upstream = upstream;
  }

  attach(client: WebSocket): void {
    this.client = client;
    client.on('message', (data, isBinary) => this.fromClient(data, isBinary));
    client.on('close', () => void this.end());
    client.on('error', () => undefined);
  }

  /** Closes the browser after reading its final state; the same answer to every caller. */
  end(closeCode = 1000, reason = ''): Promise<CdpEndResponse> {
    this.ending ??= this.finish(closeCode, reason);
    return this.ending;
  }

  private async finish(closeCode: number, reason: string): Promise<CdpEndResponse> {
    closeSocket(this.client, closeCode, reason);
    closeSocket(this.upstream, 1000, '');
    let state: StorageState | null = null;
    let finalUrl: string | null = null;
    if (this.browser.connected) {
      finalUrl = this.browser.pageUrl();
      state = await withTimeout(this.browser.snapshot(), SNAPSHOT_TIMEOUT_MS).catch(() => null);
    }
    await this.browser.close();
    return { storage_state: state, state_seq: state ? this.restoredSeq + 1 : null, final_url: finalUrl };
  }

  private fromClient(data: RawData, isBinary: boolean): void {
    const upstream = this.upstream;
    if (!upstream || this.ending) return;
    const command = isBinary ? null : parseCdpCommand(data.toString());
    if (!command) {
      this.answer({ error: { code: CDP_REFUSED_CODE, message: 'not a CDP command' } });
      return;
    }
    const verdict = judgeCdpCommand(command, this.egress);
    switch (verdict.kind) {
      case 'forward':
        if (command.method === 'Target.createBrowserContext') this.creatingContexts.add(commandKey(command));
        upstream.send(JSON.stringify(verdict.params ? { ...command, params: verdict.params } : command));
        return;
      case 'ignore':
        this.answer(reply(command, { result: {} }));
        return;
      case 'refuse':
        this.answer(reply(command, { error: { code: CDP_REFUSED_CODE, message: verdict.message } }));
        return;
      case 'close':
        this.answer(reply(command, { result: {} }));
        // After the answer is on its way: Puppeteer waits for it before it disconnects.
        void this.toClient.then(() => this.end(CDP_CLOSED_BY_CLIENT, 'Browser.close'));
        return;
    }
  }

  private fromBrowser(data: RawData, isBinary: boolean): void {
    if (this.creatingContexts.size === 0) {
      this.deliver(data, isBinary);
      return;
    }
    const message = JSON.parse(data.toString()) as { id?: number; sessionId?: string; result?: { browserContextId?: string } };
    const key = commandKey(message);
    const created = message.result?.browserContextId;
    if (message.id === undefined || !this.creatingContexts.delete(key) || !created) {
      this.deliver(data, isBinary);
      return;
    }
    // The client learns of its new context only once downloads are off in it.
    this.toClient = this.toClient.then(() => this.browser.denyDownloads(created).catch(() => undefined));
    this.deliver(data, isBinary);
  }

  private answer(message: object): void {
    this.deliver(JSON.stringify(message), false);
  }

  private deliver(data: RawData | string, isBinary: boolean): void {
    this.toClient = this.toClient.then(() => {
      if (this.client?.readyState === WebSocket.OPEN) this.client.send(data, { binary: isBinary });
    });
  }
}

const commandKey = (message: { id?: number; sessionId?: string }): string => `${message.sessionId ?? ''}\0${message.id}`;

function reply(command: CdpCommand, body: object): object {
  return { id: command.id, ...body, ...(command.sessionId ? { sessionId: command.sessionId } : {}) };
}

function closeSocket(socket: WebSocket | null, code: number, reason: string): void {
  if (socket && (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING)) {
    socket.close(code, reason);
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    work.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}
