/**
 * The flags the renderer starts Chromium with (browser.service.ts), on the real Chromium:
 * the shared browser keeps Playwright's own disabled features (Chromium reads only the last
 * `--disable-features`, so ours must repeat Playwright's), no Chromium of the renderer loads
 * the address bar's WebUI popups, which cost every browser context a renderer process, and the
 * shared browser keeps no spare renderer process, which contexts taking turns would churn.
 */
import { Browser, chromium } from 'playwright-core';
import { CHROMIUM_ARGS, PLAYWRIGHT_LAUNCH_ARGS } from '../src/headless/browser.service';
import { SessionBrowser } from '../src/headless/cdp-browser';
import { Site, startSite } from './fixtures/site';

jest.setTimeout(60_000);

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OMNIBOX_POPUP = /^chrome:\/\/omnibox-popup/;

const featuresOff = (args: readonly string[]): string[][] =>
  args.filter((a) => a.startsWith('--disable-features=')).map((a) => a.slice('--disable-features='.length).split(','));

/** The targets (type and URL) of a browser, through a CDP session of its own. */
async function targets(browser: Browser): Promise<{ type: string; url: string }[]> {
  const session = await browser.newBrowserCDPSession();
  const { targetInfos } = await session.send('Target.getTargets');
  await session.detach();
  return targetInfos;
}

describe('Chromium flags', () => {
  describe('the shared browser (Playwright launch)', () => {
    let browser: Browser;

    beforeAll(async () => {
      // --enable-automation only so that Browser.getBrowserCommandLine answers.
      browser = await chromium.launch({ executablePath: CHROMIUM, args: [...PLAYWRIGHT_LAUNCH_ARGS, '--enable-automation'] });
    });

    afterAll(async () => {
      await browser?.close();
    });

    it("keeps Playwright's disabled features and adds the renderer's", async () => {
      const session = await browser.newBrowserCDPSession();
      const { arguments: args } = await session.send('Browser.getBrowserCommandLine');
      const lists = featuresOff(args);
      expect(lists.length).toBeGreaterThanOrEqual(2); // Playwright's, then the renderer's
      const effective = lists[lists.length - 1];
      expect(effective).toEqual(expect.arrayContaining([...lists[0], ...featuresOff(CHROMIUM_ARGS)[0]]));
    });

    it('keeps the renderer processes while browser contexts take turns navigating', async () => {
      // With Chromium's spare renderer, every navigation in a context other than the last one's
      // ended the spare and started another: a process per render with sessions taking turns.
      const site: Site = await startSite('127.0.0.2');
      const cdp = await browser.newBrowserCDPSession();
      const renderers = async (): Promise<number[]> => {
        const { processInfo } = await cdp.send('SystemInfo.getProcessInfo');
        return processInfo.filter((p) => p.type === 'renderer').map((p) => p.id).sort((a, b) => a - b);
      };
      const contexts = await Promise.all([0, 1, 2].map(() => browser.newContext()));
      try {
        const pages = await Promise.all(contexts.map((context) => context.newPage()));
        for (const page of pages) await page.goto(site.url('/static'));
        const before = await renderers();
        for (let round = 0; round < 3; round++) for (const page of pages) await page.goto(site.url('/static'));
        expect(await renderers()).toEqual(before);
      } finally {
        await Promise.all(contexts.map((context) => context.close()));
        await cdp.detach();
        await site.close();
      }
    });

    it('gives a browser context its page and no address-bar popups', async () => {
      const context = await browser.newContext();
      await context.newPage();
      expect((await targets(browser)).filter((t) => OMNIBOX_POPUP.test(t.url))).toEqual([]);
      await context.close();
    });
  });

  it('a CDP browser loads no address-bar popups either', async () => {
    const session = await SessionBrowser.launch({ chromiumPath: CHROMIUM, launchTimeoutMs: 30_000 });
    const client = await chromium.connectOverCDP(session.wsEndpoint);
    try {
      await (await client.newContext()).newPage();
      const all = await targets(client);
      expect(all.some((t) => t.type === 'page')).toBe(true);
      expect(all.filter((t) => OMNIBOX_POPUP.test(t.url))).toEqual([]);
    } finally {
      await client.close();
      await session.close();
    }
  });
});
