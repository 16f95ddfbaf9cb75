import type { BrowserContext, CDPSession, Page } from 'playwright-core';
import type { RenderStateWatch } from './context-state';

/**
 * A session context's one tab, kept between renders like a browser tab (opening a page costs
 * more than navigating one, and the tab keeps sessionStorage), and parked on about:blank once
 * its session has not rendered for a moment: the page it showed is unloaded, so nothing of it
 * runs (no timers, scripts or connections) and its DOM costs no memory until the next render of
 * its session navigates the tab again. sessionStorage survives, as it does across navigations
 * in a browser tab. (CDP's Page.setWebLifecycleState 'frozen' was tried first: headless
 * Chromium accepts it and keeps running the page's timers.)
 *
 * Parking waits for a moment without a render because unloading is a navigation of its own,
 * which costs Chromium about as much CPU as half a render of a small page (bench P9: ~40 of
 * ~120 ms): parked after every render, a busy session paid it every time.
 */
export class SessionTab {
  private parking: Promise<unknown> = Promise.resolve();
  /** Set while the tab is still on its last render's page, its parking scheduled. */
  private lingering?: { timer: NodeJS.Timeout; watch: RenderStateWatch };
  private cdp?: Promise<CDPSession>;

  private constructor(readonly page: Page) {}

  static async open(context: BrowserContext): Promise<SessionTab> {
    return new SessionTab(await context.newPage());
  }

  get closed(): boolean {
    return this.page.isClosed();
  }

  /** Parks the tab at once (DESIGN §5's default): not awaited by the render, only by the next wake(). */
  park(): void {
    this.parking = this.unload();
  }

  /**
   * Parks the tab once `afterMs` pass without a render (HEADLESS_PARK_AFTER_MS). Until then the
   * page still runs: `watch` follows it from now on, and `read` (the state export) reads what it
   * did just before it is unloaded, while its origins are live.
   */
  parkAfter(afterMs: number, watch: RenderStateWatch, read: () => Promise<unknown>): void {
    const timer = setTimeout(() => {
      this.lingering = undefined;
      this.parking = read()
        .catch(() => undefined)
        .then(() => {
          watch.dispose();
          return this.unload();
        });
    }, afterMs);
    timer.unref(); // a lingering tab never holds the process open
    this.lingering = { timer, watch };
  }

  /**
   * Readies the tab for a render. A tab still on its last page is taken as it is (its parking
   * called off): the answer is the watch that followed its page since the last render, for the
   * render to go on with. Otherwise waits for the parking under way and answers null.
   */
  async wake(): Promise<RenderStateWatch | null> {
    const lingering = this.lingering;
    this.lingering = undefined;
    if (lingering) {
      clearTimeout(lingering.timer);
      return lingering.watch;
    }
    await this.parking.catch(() => undefined);
    return null;
  }

  /** The tab's own CDP session, opened on first use and kept with the tab (it reads localStorage). */
  storageSession(): Promise<CDPSession> {
    this.cdp ??= this.page.context().newCDPSession(this.page);
    return this.cdp;
  }

  /** Never rejects: a parking may run after its context is gone (the session closed, shutdown). */
  private unload(): Promise<unknown> {
    return this.page
      .goto('about:blank')
      .catch(() => this.page.close())
      .catch(() => undefined);
  }
}
