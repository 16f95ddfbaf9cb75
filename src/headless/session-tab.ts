import type { BrowserContext, CDPSession, Page } from 'playwright-core';

/**
 * A session context's one tab, kept between renders like a browser tab (opening a page costs
 * more than navigating one, and the tab keeps sessionStorage), but parked on about:blank: the
 * page it showed is unloaded, so nothing of it runs (no timers, scripts or connections) and
 * its DOM costs no memory until the next render of its session navigates the tab again.
 * sessionStorage survives, as it does across navigations in a browser tab. (CDP's
 * Page.setWebLifecycleState 'frozen' was tried first: headless Chromium accepts it and keeps
 * running the page's timers.)
 */
export class SessionTab {
  private parking: Promise<unknown> = Promise.resolve();
  private cdp?: Promise<CDPSession>;

  private constructor(readonly page: Page) {}

  static async open(context: BrowserContext): Promise<SessionTab> {
    return new SessionTab(await context.newPage());
  }

  get closed(): boolean {
    return this.page.isClosed();
  }

  /** Unloads the page; not awaited by the render that parks it, only by the next wake(). */
  park(): void {
    this.parking = this.page.goto('about:blank').catch(() => this.page.close());
  }

  async wake(): Promise<void> {
    await this.parking.catch(() => undefined);
  }

  /** The tab's own CDP session, opened on first use and kept with the tab (it reads localStorage). */
  storageSession(): Promise<CDPSession> {
    this.cdp ??= this.page.context().newCDPSession(this.page);
    return this.cdp;
  }
}
