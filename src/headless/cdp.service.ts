import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { WebSocketServer } from 'ws';
import { AppConfig } from '../config/app-config';
import { CDP_MAX_MESSAGE_BYTES, CdpEndResponse, CdpStartRequestDto, StorageState } from '../renderer-rpc';
import { EgressIdentity } from '../egress/egress-identity';
import { RendererEgress } from '../egress/renderer-egress';
import { BrowserService, BYPASS_NOTHING } from './browser.service';
import { SessionBrowser } from './cdp-browser';
import { CdpConnection } from './cdp-connection';
import { RenderError } from './errors';

/** A browser the API started but never attached to (its API instance died) is closed after this. */
const ATTACH_WITHIN_MS = 30_000;
/** An ended connection's answer is kept this long for the API's end call (it may come after the socket closed). */
const KEEP_ENDED_MS = 60_000;
const LAUNCH_TIMEOUT_MS = 30_000;

/**
 * The renderer's CDP sessions: a browser per connected session (see SessionBrowser), at most
 * CDP_MAX_CONNECTIONS running at once. The API starts one for a context key, attaches its
 * socket, and ends it (reading the final state); the renderer ends it on its own when the
 * API's socket goes away, and closes the ones nobody attached to.
 */
@Injectable()
export class CdpService implements OnApplicationShutdown {
  private readonly logger = new Logger('HeadlessCdp');
  private readonly connections = new Map<string, CdpConnection>();
  /** Browsers being launched, counted against the cap before they exist. */
  private starting = 0;
  private closed = false;
  /** Accepts the API's sockets (upgrades arrive through the router: see routeUpgradeRequests). */
  readonly sockets = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: CDP_MAX_MESSAGE_BYTES });

  constructor(
    private readonly config: AppConfig,
    private readonly browsers: BrowserService,
    private readonly egress: RendererEgress,
  ) {}

  get running(): number {
    let live = this.starting;
    for (const connection of this.connections.values()) if (!connection.ended) live++;
    return live;
  }

  /** Launches the key's browser with the given state. A previous one of that key is ended first. */
  async start(key: string, request: CdpStartRequestDto): Promise<void> {
    if (this.closed) throw new RenderError('shutting_down', 'renderer is shutting down');
    const previous = this.connections.get(key);
    if (previous) {
      this.connections.delete(key);
      await previous.end(1008, 'replaced by a new connection');
    }
    if (this.running >= this.config.cdp_max_connections) {
      throw new RenderError('busy', `this renderer runs its maximum of ${this.config.cdp_max_connections} CDP connections (CDP_MAX_CONNECTIONS)`);
    }
    // Renders and a CDP connection never share a session's state: the warm render context
    // would keep what the connection is about to change.
    this.browsers.closeContext(key);
    this.starting++;
    let identity: EgressIdentity | undefined;
    let browser: SessionBrowser;
    try {
      identity = await this.egressFor(request);
      browser = await SessionBrowser.launch({
        chromiumPath: this.config.chromium_path,
        launchTimeoutMs: LAUNCH_TIMEOUT_MS,
        // Everything the browser sends leaves through the session's egress listener; the
        // contexts a client creates are pointed at it too (see judgeCdpCommand).
        extraArgs: [`--proxy-server=${identity.server}`, `--proxy-bypass-list=${BYPASS_NOTHING}`],
      });
    } catch (error) {
      await identity?.close();
      throw error;
    } finally {
      this.starting--;
    }
    const egress = identity;
    browser.onExit(() => void egress.close());
    try {
      if (request.storage_state) await browser.restore(request.storage_state as StorageState);
    } catch (error) {
      await browser.close();
      throw new RenderError('invalid_request', `storage_state rejected: ${(error as Error).message}`);
    }
    const connection = new CdpConnection(browser, request.state_seq ?? 0, { proxyServer: egress.server, proxyBypassList: BYPASS_NOTHING });
    this.connections.set(key, connection);
    const unattached = setTimeout(() => {
      if (!connection.attached) void connection.end();
    }, ATTACH_WITHIN_MS);
    unattached.unref();
    void this.forgetWhenEnded(key, connection, unattached);
  }

  /**
   * The session browser's own egress listener, chained to the session's upstream proxy (well
   * formed, on a host the policy allows) or the operator's default.
   */
  private async egressFor(request: CdpStartRequestDto): Promise<EgressIdentity> {
    let upstream = null;
    if (request.proxy) {
      const outcome = await this.egress.sessionProxy(request.proxy);
      if (!outcome.ok) throw new RenderError(outcome.problem === 'invalid' ? 'invalid_request' : 'egress_refused', outcome.message);
      upstream = outcome.upstream;
    }
    const identity = await this.egress.openIdentity('cdp');
    if (upstream) identity.route(upstream);
    return identity;
  }

  /** The key's connection, ready for the API's socket; 404 when there is none to attach to. */
  attachable(key: string): CdpConnection {
    const connection = this.connections.get(key);
    if (!connection || connection.attached || connection.ended) {
      throw new RenderError('not_found', 'no CDP browser waiting for this key');
    }
    return connection;
  }

  /** Ends the key's connection and answers its final state (also after it ended by itself). */
  async end(key: string): Promise<CdpEndResponse> {
    const connection = this.connections.get(key);
    if (!connection) throw new RenderError('not_found', 'no CDP connection for this key');
    return connection.end(1000, 'ended by the API');
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.connections.values()].map((connection) => connection.end(1001, 'renderer shutting down')));
    this.sockets.close();
  }

  private async forgetWhenEnded(key: string, connection: CdpConnection, unattached: NodeJS.Timeout): Promise<void> {
    await new Promise<void>((resolve) => connection.browser.onExit(resolve));
    clearTimeout(unattached);
    await connection.end();
    const forget = setTimeout(() => {
      if (this.connections.get(key) === connection) this.connections.delete(key);
    }, KEEP_ENDED_MS);
    forget.unref();
    this.logger.debug(`CDP connection ${key.slice(0, 8)}… ended`);
  }
}
