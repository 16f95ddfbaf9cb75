import type { BrowserContext, Page, Request, WebSocket } from 'playwright-core';
import type { EgressLog } from '../egress/egress-log';
import { formatHost } from '../egress/egress-target';
import type { Refusal } from '../egress/proxy/egress-proxy';
import { RenderError } from './errors';

/** How long a render waits, at most, for the browser to report requests the proxy already refused. */
const SETTLE_MS = 250;
const SETTLE_POLL_MS = 10;

/**
 * Follows one render's page while the egress layer records its refusals: the browser's failed
 * requests tell which refusal was the page's own navigation (its first URL, a redirect, a
 * script's location.href, a meta refresh, a js action's navigation), and lend their URLs to the
 * refusals of tunnels. Everything else refused — sub-resources, frames, workers, popups — is a
 * blocked request of a page that still renders.
 */
export class EgressWatch {
  private navigation: Refusal | undefined;

  constructor(
    private readonly page: Page,
    private readonly context: BrowserContext,
    private readonly log: EgressLog,
  ) {
    context.on('requestfailed', this.onRequestFailed);
    page.on('websocket', this.onWebSocket);
  }

  /** The refusal that was the page's own navigation, if any. */
  get refusedNavigation(): Refusal | undefined {
    return this.navigation;
  }

  /** Throws `egress_refused` (422) naming the host when the page's own navigation was refused. */
  check(): void {
    if (!this.navigation) return;
    const { host, reason } = this.navigation;
    throw new RenderError('egress_refused', `navigation to host '${formatHost(host)}' was refused by the egress policy (${reason})`);
  }

  /**
   * Gives the browser a moment to report what the proxy refused (its events come over CDP, the
   * refusal is recorded in this process first); returns at once when nothing is outstanding.
   */
  async settle(): Promise<void> {
    const until = Date.now() + SETTLE_MS;
    while (this.log.unreported > 0 && !this.navigation && Date.now() < until && !this.page.isClosed()) {
      await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
    }
  }

  dispose(): void {
    this.context.off('requestfailed', this.onRequestFailed);
    this.page.off('websocket', this.onWebSocket);
  }

  private readonly onRequestFailed = (request: Request): void => {
    const refusal = this.log.browserFailed(request.url());
    if (refusal && !this.navigation && request.isNavigationRequest() && frameOf(request) === this.page.mainFrame()) {
      this.navigation = refusal;
    }
  };

  /** A refused WebSocket never shows as a failed request; its close is the browser's report. */
  private readonly onWebSocket = (socket: WebSocket): void => {
    socket.once('close', () => this.log.browserFailed(socket.url()));
  };
}

/** The request's frame; service-worker requests have none (Playwright throws). */
function frameOf(request: Request): unknown {
  try {
    return request.frame();
  } catch {
    return undefined;
  }
}
