/**
 * Session tabs between renders, on the real Chromium: warm sessions rendering at once start no
 * Chromium processes (each keeps its context's renderer process: no spare renderer churned
 * across contexts, no tab opened or closed per render); a frozen tab keeps its page until its
 * session has been quiet for headless_unload_after_seconds; and a page whose worker a frozen tab
 * would not stop is unloaded at once (DESIGN §5: no script runs between renders).
 */
import { createHash } from 'node:crypto';
import { BrowserService } from '../src/headless/browser.service';
import { Site, startSite } from './fixtures/site';
import { RENDERER_TOKEN, startRenderer, StartedRenderer } from './support/renderer';

jest.setTimeout(60_000);

/** Long enough for the tests of freezing to end before a frozen page would be unloaded anyway. */
const UNLOAD_AFTER_SECONDS = 8;
const key = (name: string): string => createHash('sha256').update(name).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('session tabs between renders (real Chromium)', () => {
  let site: Site;
  let other: Site;
  let r: StartedRenderer;

  const render = async (body: object): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${r.url}/render`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${RENDERER_TOKEN}` },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
  const closeContext = (contextKey: string) =>
    fetch(`${r.url}/contexts/${contextKey}`, { method: 'DELETE', headers: { authorization: `Bearer ${RENDERER_TOKEN}` } });

  beforeAll(async () => {
    site = await startSite('127.0.0.2');
    other = await startSite('127.0.0.3'); // another site: its frames run in a renderer process of their own
    r = await startRenderer({
      render_timeout_ms: 10_000,
      headless_unload_after_seconds: UNLOAD_AFTER_SECONDS,
      render_allowed_hosts: ['127.0.0.2', '127.0.0.3'],
    });
  });

  afterAll(async () => {
    await r?.app.close();
    await site?.close();
    await other?.close();
  });

  it('starts no Chromium process while warm sessions render at once', async () => {
    const sessions = [0, 1, 2, 3].map((i) => key(`parking-busy-${i}`));
    const cdp = await (await r.app.get(BrowserService).getBrowser()).newBrowserCDPSession();
    const processes = async (): Promise<string[]> => {
      const { processInfo } = await cdp.send('SystemInfo.getProcessInfo');
      return processInfo.map((p) => `${p.type}:${p.id}`).sort();
    };
    try {
      for (const session of sessions) expect((await render({ url: site.url('/static'), context_key: session })).status).toBe(200);
      const before = await processes();
      for (let round = 0; round < 3; round++) {
        const answers = await Promise.all(sessions.map((session) => render({ url: site.url('/static'), context_key: session })));
        expect(answers.map((a) => [a.status, a.body.context_reused])).toEqual(sessions.map(() => [200, true]));
      }
      await sleep(500); // parked, all of them
      expect(await processes()).toEqual(before);
    } finally {
      await cdp.detach();
      for (const session of sessions) await closeContext(session);
    }
  });

  // What the page's disabled scripts would not stop: the tab is unloaded instead of frozen.
  const apart = {
    'dedicated worker': () => ({ ticking: site, url: site.url('/worker-ticker'), ready: 'window.ticking === true' }),
    'shared worker': () => ({ ticking: site, url: site.url('/worker-ticker?kind=shared'), ready: 'window.ticking === true' }),
    "another site's frame": () => ({
      ticking: other,
      url: site.url(`/frame?src=${encodeURIComponent(other.url('/ticker'))}`),
      ready: 'document.querySelector("iframe").contentWindow.length === 0', // loaded (then it ticks)
    }),
  };
  it.each(Object.keys(apart))("stops a page's %s between renders: the tab is unloaded", async (kind) => {
    const { ticking, url, ready } = apart[kind as keyof typeof apart]();
    const session = key(`parking-apart-${kind}`);
    const first = await render({ url, context_key: session, actions: [{ type: 'wait_for_js', expr: ready, timeout_ms: 5000 }] });
    expect(first.status).toBe(200);
    await ticking.waitForHits('/tick', ticking.hits('/tick') + 1); // running
    await ticking.waitForQuiet('/tick', 3000); // parked (unloading takes a moment, and so does a shared worker's end)
    const parked = ticking.hits('/tick');
    await sleep(1500); // 150 ticks if it ran
    expect(ticking.hits('/tick') - parked).toBe(0);

    // Unloaded, not frozen: the next render's page runs as on any tab.
    const next = await render({ url: site.url('/whoami'), context_key: session });
    expect(next.body.context_reused).toBe(true);
    expect(next.body.html).toContain('<pre id="token">null</pre>');
    await closeContext(session);
  });

  it('keeps a frozen tab on its page until its session has been quiet a while, then unloads the page', async () => {
    const session = key('parking-unload');
    const url = site.url('/static?unload');
    const cdp = await (await r.app.get(BrowserService).getBrowser()).newBrowserCDPSession();
    const tabUrl = async (targetId: string): Promise<string | undefined> => {
      const { targetInfos } = await cdp.send('Target.getTargets');
      return targetInfos.find((target) => target.targetId === targetId)?.url;
    };
    try {
      expect((await render({ url, context_key: session })).status).toBe(200);
      const answered = Date.now(); // the unload's wait starts later, once the tab is frozen
      const { targetInfos } = await cdp.send('Target.getTargets');
      const tab = targetInfos.find((target) => target.type === 'page' && target.url === url);
      expect(tab).toBeDefined();
      await sleep(1000); // parked (an unload would be done by now), but not quiet long enough to unload
      if (Date.now() - answered < (UNLOAD_AFTER_SECONDS - 0.5) * 1000) expect(await tabUrl(tab!.targetId)).toBe(url);
      for (const until = Date.now() + 15_000; (await tabUrl(tab!.targetId)) !== 'about:blank' && Date.now() < until; ) await sleep(200);
      expect(await tabUrl(tab!.targetId)).toBe('about:blank');

      // The same tab serves the next render, whose page's scripts run.
      const next = await render({ url: site.url('/whoami'), context_key: session });
      expect(next.body.context_reused).toBe(true);
      expect(next.body.html).toContain('<pre id="token">null</pre>');
      expect(await tabUrl(tab!.targetId)).toBe(site.url('/whoami'));
    } finally {
      await cdp.detach();
      await closeContext(session);
    }
  });

  it("pauses a frozen page's animations, and runs them again for the next render", async () => {
    const session = key('parking-animations');
    const url = site.url('/static?animations');
    expect((await render({ url, context_key: session })).status).toBe(200);
    const browser = await r.app.get(BrowserService).getBrowser();
    const tab = browser
      .contexts()
      .flatMap((context) => context.pages())
      .find((page) => page.url() === url)!;
    // The document timeline's rate, as any CDP client of the page reads it.
    const cdp = await tab.context().newCDPSession(tab);
    const rate = async (): Promise<number> => (await cdp.send('Animation.getPlaybackRate')).playbackRate;
    try {
      for (const until = Date.now() + 5000; (await rate()) !== 0 && Date.now() < until; ) await sleep(100); // freezing
      expect(await rate()).toBe(0);
      // Woken: an animation the next render starts runs (its clock would stand still at rate 0).
      // The same document (a fragment navigation), whose timeline the freeze slowed to rate 0.
      const next = await render({
        url: `${url}#woken`,
        context_key: session,
        actions: [
          { type: 'js', code: 'document.body.animate([{ opacity: 0 }, { opacity: 1 }], { duration: 60000 })' },
          { type: 'wait_for_js', expr: 'document.getAnimations()[0].currentTime > 200', timeout_ms: 3000 },
        ],
      });
      expect([next.status, next.body.action_error]).toEqual([200, null]);
    } finally {
      await cdp.detach();
      await closeContext(session);
    }
  });
});
