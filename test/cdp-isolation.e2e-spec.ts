/**
 * A connected client sees its session's browser and nothing else (DESIGN §3 "CDP sessions"):
 * two sessions connected at once, one through Playwright and one through Puppeteer, see
 * neither the other's pages, targets (Target.getTargets, also on the browser target) nor
 * cookies; closing one leaves the other working. Puppeteer's Browser.close saves the state.
 * The renderer's command filter: file: navigations and per-context proxies are refused,
 * Browser.setDownloadBehavior is accepted and ignored.
 */
import { chromium } from 'playwright-core';
import puppeteer from 'puppeteer-core';
import { auth, CdpStack, startCdpStack } from './support/cdp';

jest.setTimeout(120_000);

describe('CDP: a browser per session', () => {
  let stack: CdpStack;

  beforeAll(async () => {
    stack = await startCdpStack();
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('Puppeteer connect works, and its browser.close() (Browser.close) saves the state', async () => {
    const browser = await puppeteer.connect({ browserWSEndpoint: stack.cdpUrl('pptr'), headers: auth() });
    const [page] = await browser.pages();
    await page.goto(stack.site.url('/login'));
    expect(await page.$eval('h1', (h) => h.textContent)).toBe('Logged in');
    await browser.close();

    const render = await stack.render('pptr', '/whoami');
    expect(render.status).toBe(200);
    expect(render.body.html).toContain('sid=abc123');
    expect(render.body.html).toContain('<pre id="token">t-123</pre>');
  });

  it("two sessions at once see neither the other's pages, targets nor cookies; closing one leaves the other working", async () => {
    const one = await chromium.connectOverCDP(stack.cdpUrl('iso-one'), { headers: auth() });
    const two = await puppeteer.connect({ browserWSEndpoint: stack.cdpUrl('iso-two'), headers: auth() });

    const onePage = one.contexts()[0].pages()[0];
    await onePage.goto(stack.site.url('/login'));
    const [twoPage] = await two.pages();
    await twoPage.goto(stack.site.url('/static?two'));
    const extra = await two.newPage();
    await extra.goto(stack.site.url('/whoami?two'));

    // Targets, asked on each client's browser-level session.
    const oneCdp = await one.newBrowserCDPSession();
    const oneTargets = (await oneCdp.send('Target.getTargets')).targetInfos.filter((t) => t.type === 'page').map((t) => t.url);
    expect(oneTargets).toEqual([stack.site.url('/login')]);
    const twoCdp = await two.target().createCDPSession();
    const twoTargets = ((await twoCdp.send('Target.getTargets')).targetInfos as { type: string; url: string }[])
      .filter((t) => t.type === 'page')
      .map((t) => t.url)
      .sort();
    expect(twoTargets).toEqual([stack.site.url('/static?two'), stack.site.url('/whoami?two')].sort());
    // The browser target itself: still only this session's pages.
    const { sessionId } = await oneCdp.send('Target.attachToBrowserTarget');
    expect(sessionId).toBeTruthy();
    expect(one.contexts()).toHaveLength(1);

    // Cookies: session one logged in, session two did not.
    expect((await one.contexts()[0].cookies()).map((c) => c.name)).toEqual(['sid']);
    expect(await extra.$eval('#cookie', (e) => e.textContent)).toBe('');
    const { cookies } = (await twoCdp.send('Storage.getCookies')) as { cookies: unknown[] };
    expect(cookies).toEqual([]);

    await one.close();
    await extra.goto(stack.site.url('/static?after'));
    expect(await extra.$eval('h1', (h) => h.textContent)).toBe('static');
    await two.disconnect();
  });

  it('refuses file: navigations and per-context proxies, ignores Browser.setDownloadBehavior', async () => {
    const browser = await chromium.connectOverCDP(stack.cdpUrl('filter'), { headers: auth() });
    const cdp = await browser.newBrowserCDPSession();
    await expect(cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: '/tmp' })).resolves.toEqual({});
    await expect(cdp.send('Target.createTarget', { url: 'file:///etc/passwd' })).rejects.toThrow(/only http\(s\) URLs/);
    await expect(cdp.send('Target.createTarget', { url: 'chrome://version' })).rejects.toThrow(/only http\(s\) URLs/);
    await expect(browser.newContext({ proxy: { server: 'http://127.0.0.1:1' } })).rejects.toThrow(/per-context proxies/);

    const page = browser.contexts()[0].pages()[0];
    const pageCdp = await browser.contexts()[0].newCDPSession(page);
    await expect(pageCdp.send('Page.navigate', { url: 'file:///etc/passwd' })).rejects.toThrow(/only http\(s\) URLs/);
    // A scratch context works (and is not saved).
    const scratch = await browser.newContext();
    const scratchPage = await scratch.newPage();
    await scratchPage.goto(stack.site.url('/login'));
    await browser.close();

    const render = await stack.render('filter', '/whoami');
    expect(render.body.html).toContain('<pre id="token">null</pre>');
    expect(render.body.html).not.toContain('sid=abc123');
  });
});
