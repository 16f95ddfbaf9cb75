/**
 * The egress policy holds for everything a CDP-driven browser does (DESIGN §3, §5): a page's
 * navigation and fetch to a loopback canary fail with 0 hits, also in a context the client
 * created; the allowed site still works. A session whose proxy names a loopback host is
 * refused before the upgrade (422), and its request is given back: the API here allows
 * 127.0.0.1 (so that it stores such a proxy at all) while the renderer does not, so it is the
 * renderer's own check that refuses.
 */
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium } from 'playwright-core';
import { auth, CdpStack, startCdpStack, tryUpgrade } from './support/cdp';

jest.setTimeout(90_000);

describe('CDP: the egress policy applies to the connected browser', () => {
  let stack: CdpStack;
  let canary: Server;
  let canaryUrl: string;
  let hits = 0;

  beforeAll(async () => {
    stack = await startCdpStack({ render_allowed_hosts: ['127.0.0.2', '127.0.0.1'] });
    canary = createServer((_req, res) => {
      hits++;
      res.end('canary');
    });
    await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
    canaryUrl = `http://127.0.0.1:${(canary.address() as AddressInfo).port}/`;
  });

  afterAll(async () => {
    await stack?.close();
    await new Promise((resolve) => canary?.close(resolve));
  });

  it('navigation and fetch to a loopback canary fail with 0 hits, in the default and a created context', async () => {
    const browser = await chromium.connectOverCDP(stack.cdpUrl('egress'), { headers: auth() });
    const page = browser.contexts()[0].pages()[0];
    await expect(page.goto(canaryUrl)).rejects.toThrow();

    // A fresh tab: the refused one is still committing its error page.
    const sitePage = await browser.contexts()[0].newPage();
    await sitePage.goto(stack.site.url('/static'));
    await expect(sitePage.locator('h1').textContent()).resolves.toBe('static');
    const fetched = await sitePage.evaluate((url) => fetch(url, { mode: 'no-cors' }).then(() => 'reached', (e: Error) => `failed: ${e.message}`), canaryUrl);
    expect(fetched).toMatch(/^failed/);

    const scratch = await browser.newContext();
    const scratchPage = await scratch.newPage();
    await expect(scratchPage.goto(canaryUrl)).rejects.toThrow();
    const scratchSite = await scratch.newPage();
    await scratchSite.goto(stack.site.url('/static'));
    await expect(scratchSite.locator('h1').textContent()).resolves.toBe('static');
    await browser.close();
    expect(hits).toBe(0);
  });

  it("a session proxy on a loopback host is refused before the upgrade (422), using up no request", async () => {
    const created = await stack.api.inject({
      method: 'POST',
      url: '/v1/sessions',
      headers: auth(),
      payload: { session_id: 'bad-proxy', proxy: { server: canaryUrl.replace(/\/$/, '') } },
    });
    expect(created.status).toBe(201);
    const refused = await tryUpgrade(stack.cdpUrl('bad-proxy'), auth());
    expect(refused !== 'open' && refused.status).toBe(422);
    expect(refused !== 'open' && refused.body.message).toMatch(/proxy host/);
    expect((await stack.api.inject({ url: '/v1/sessions/bad-proxy', headers: auth() })).body.state.request_count).toBe(0);
    expect(hits).toBe(0);
  });
});
