/**
 * Session tabs between renders, on the real Chromium: warm sessions rendering at once start no
 * Chromium processes (each keeps its context's renderer process: no spare renderer churned
 * across contexts, no tab opened or closed per render), and a tab's page that runs on after its
 * render until the tab is parked (headless_park_after_ms) still has what it writes exported,
 * whether the tab is parked first or the session's next render goes elsewhere.
 */
import { createHash } from 'node:crypto';
import type { StorageState } from '../src/renderer-rpc';
import { BrowserService } from '../src/headless/browser.service';
import { Site, startSite } from './fixtures/site';
import { RENDERER_TOKEN, startRenderer, StartedRenderer } from './support/renderer';

jest.setTimeout(60_000);

const PARK_AFTER_MS = 1000;
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
    other = await startSite('127.0.0.2'); // another port: another origin
    r = await startRenderer({ render_timeout_ms: 10_000, headless_park_after_ms: PARK_AFTER_MS });
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
      // The tabs parked on about:blank, too, stay in their context's renderer process.
      await sleep(PARK_AFTER_MS + 500);
      expect(await processes()).toEqual(before);
    } finally {
      await cdp.detach();
      for (const session of sessions) await closeContext(session);
    }
  });

  const lateWrite = { type: 'js', code: "setTimeout(() => localStorage.setItem('late', 'yes'), 100)" };
  const lateState = (): StorageState['origins'] => [{ origin: new URL(site.url('/')).origin, localStorage: [{ name: 'late', value: 'yes' }] }];

  it("exports what a page wrote after its render, read before its tab was parked", async () => {
    const session = key('parking-late-parked');
    const first = await render({ url: site.url('/static'), context_key: session, actions: [lateWrite] });
    expect(first.body.storage_state.origins).toEqual([]);
    await sleep(PARK_AFTER_MS + 500); // written, then read and parked
    // Another origin: the first one is not live in this render, so only the parking read saw it.
    const next = await render({ url: other.url('/static'), context_key: session });
    expect(next.status).toBe(200);
    expect(next.body.storage_state.origins).toEqual(lateState());
    expect(next.body.state_seq).toBe(first.body.state_seq + 1);
    await closeContext(session);
  });

  it('exports what a page wrote after its render when the next render goes to another origin before the parking', async () => {
    const session = key('parking-late-lingering');
    const first = await render({ url: site.url('/static'), context_key: session, actions: [lateWrite] });
    expect(first.body.storage_state.origins).toEqual([]);
    await sleep(300); // written; the tab is still on the page
    const next = await render({ url: other.url('/static'), context_key: session });
    expect(next.status).toBe(200);
    expect(next.body.storage_state.origins).toEqual(lateState());
    await closeContext(session);
  });

  it('keeps a page running between quick renders of the same origin, and its writes', async () => {
    const session = key('parking-late-same');
    await render({ url: site.url('/static'), context_key: session, actions: [lateWrite] });
    await sleep(300);
    const next = await render({ url: site.url('/static'), context_key: session });
    expect(next.body.storage_state.origins).toEqual(lateState());
    await closeContext(session);
  });
});
