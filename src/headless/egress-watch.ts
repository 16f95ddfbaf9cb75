import type { BrowserContext, Frame, Page, Request, WebSocket } from 'playwright-core';
import type { EgressLog } from '../egress/egress-log';
import { formatHost } from '../egress/egress-target';
import type { Refusal } from '../egress/proxy/egress-proxy';
import { RenderError } from './errors';
import { startedNavigation } from './navigation-probe';

/** How long a render waits, at most, for the browser to report requests the proxy already refused. */
const SETTLE_MS = 250;
const SETTLE_POLL_MS = 10;
/** How long a render waits, at most, for a navigation its page started to be refused or to commit. */
const NAVIGATION_SETTLE_MS = 2000;

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
   * Lets outstanding egress decisions land before the render answers: a navigation the page has
   * started (see navigation-probe.ts) is waited for until it commits or is refused, and the
   * browser gets a moment to report what the proxy refused (its events come over CDP, the
   * refusal is recorded in this process first). Returns at once when nothing is outstanding.
   */
  async settle(): Promise<void> {
    if (!this.navigation && (await startedNavigation(this.page))) await this.navigationOutcome();
    const until = Date.now() + SETTLE_MS;
    while (this.log.unreported > 0 && !this.navigation && Date.now() < until && !this.page.isClosed()) {
      await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
    }
  }

  /** Until the main frame commits a document or its navigation is refused (bounded). */
  private navigationOutcome(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        clearInterval(poll);
        this.page.off('framenavigated', onNavigated);
        resolve();
      };
      const onNavigated = (frame: Frame): void => {
        if (frame === this.page.mainFrame()) done();
      };
      const timer = setTimeout(done, NAVIGATION_SETTLE_MS);
      const poll = setInterval(() => this.navigation && done(), SETTLE_POLL_MS);
      this.page.on('framenavigated', onNavigated);
    });
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
