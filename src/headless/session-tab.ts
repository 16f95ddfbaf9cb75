import type { BrowserContext, CDPSession, Page } from 'playwright-core';

/**
 * What of a page runs where disabling its scripts does not reach: workers, and frames of other
 * sites (out-of-process iframes, each in a renderer of its own).
 */
const APART_TARGETS = [{ type: 'worker' }, { type: 'shared_worker' }, { type: 'iframe' }];

/**
 * A session context's one tab, kept between renders like a browser tab (opening a page costs
 * more than navigating one, and the tab keeps sessionStorage), and frozen between them (DESIGN
 * §5: no script runs): the page it showed stays, with its scripts disabled and its animations
 * paused, until the next render of its session wakes the tab and navigates it, or until its
 * session has not rendered for a while (HEADLESS_UNLOAD_AFTER_SECONDS): then the page is
 * unloaded, which frees its memory (a real site's page can hold more than its renderer process).
 *
 * Freezing costs three CDP calls. Unloading the page (navigating the tab to about:blank) would
 * stop everything too, but is a navigation of its own: about 40 ms of Chromium CPU per render
 * of a small page (bench P9), as much again as the render's own navigation. CDP's
 * Page.setWebLifecycleState 'frozen' would be the web's own freeze, but headless Chromium
 * accepts it and keeps running the page (its pages never count as hidden). Disabled scripts
 * stop the page's timers, callbacks and event handlers, not its workers nor its frames of other
 * sites: a page with either is unloaded instead.
 *
 * Woken, the old page runs again for the moment until the next render's navigation commits
 * (its overdue timers, its unload handlers): what it writes then to an origin that render does
 * not show is not saved, as unload-time writes were not when parking unloaded every page.
 */
export class SessionTab {
  private parking: Promise<unknown> = Promise.resolve();
  private unloadTimer?: NodeJS.Timeout;
  /** Set while the page's scripts are disabled and its animations paused, until wake() undoes it. */
  private frozen = false;
  private cdp?: Promise<CDPSession>;
  private contextId?: Promise<string>;

  private constructor(readonly page: Page) {}

  static async open(context: BrowserContext): Promise<SessionTab> {
    return new SessionTab(await context.newPage());
  }

  get closed(): boolean {
    return this.page.isClosed();
  }

  /**
   * Parks the tab after its render, its page unloaded once `unloadAfterMs` pass without a render:
   * not awaited by the render, only by the next wake().
   */
  park(unloadAfterMs: number): void {
    this.parking = this.freeze().then((holdsPage) => {
      if (!holdsPage) return;
      this.unloadTimer = setTimeout(() => (this.parking = this.unload()), unloadAfterMs);
      this.unloadTimer.unref(); // a parked tab never holds the process open
    });
  }

  /**
   * Readies the tab for a render: waits for its parking (an unload under way included), and
   * thaws a frozen page so that the page the render navigates to runs. A tab that cannot be
   * thawed is closed (see `closed`).
   */
  async wake(): Promise<void> {
    await this.parking;
    clearTimeout(this.unloadTimer);
    await this.parking; // the unload, had its timer fired meanwhile
    if (this.frozen) await this.thaw().catch(() => this.page.close().catch(() => undefined));
  }

  /** The tab's own CDP session, opened on first use and kept with the tab (it reads localStorage, freezes the page). */
  session(): Promise<CDPSession> {
    this.cdp ??= this.page.context().newCDPSession(this.page);
    return this.cdp;
  }

  /** Whether the frozen tab still holds its page (else it was unloaded). Never rejects, as unload(). */
  private async freeze(): Promise<boolean> {
    try {
      const cdp = await this.session();
      this.frozen = true;
      // Scripts first: once they are off the page cannot start a worker or frame the check below would miss.
      await setFrozen(cdp, true);
      if (!(await this.runsApart(cdp))) return true;
    } catch {
      // Not frozen for sure: unloaded instead.
    }
    await this.unload();
    return false;
  }

  private async thaw(): Promise<void> {
    await setFrozen(await this.session(), false);
    this.frozen = false;
  }

  /** Whether the tab's context runs anything apart from the page (one tab per session context: it is this page's). */
  private async runsApart(cdp: CDPSession): Promise<boolean> {
    this.contextId ??= cdp.send('Target.getTargetInfo').then(({ targetInfo }) => targetInfo.browserContextId ?? '');
    const [contextId, { targetInfos }] = await Promise.all([this.contextId, cdp.send('Target.getTargets', { filter: APART_TARGETS })]);
    return targetInfos.some((target) => target.browserContextId === contextId);
  }

  /**
   * Never rejects: a parking may run after its context is gone (the session closed, shutdown).
   * A frozen page's unload handlers do not run (its scripts are off).
   */
  private unload(): Promise<unknown> {
    return this.page
      .goto('about:blank')
      .catch(() => this.page.close())
      .catch(() => undefined);
  }
}

/** Disables (or enables again) the page's scripts, and pauses (or resumes) its animations. */
async function setFrozen(cdp: CDPSession, frozen: boolean): Promise<void> {
  await Promise.all([
    cdp.send('Emulation.setScriptExecutionDisabled', { value: frozen }),
    cdp.send('Animation.setPlaybackRate', { playbackRate: frozen ? 0 : 1 }),
  ]);
}
