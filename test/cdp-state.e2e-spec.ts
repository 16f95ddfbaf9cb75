/**
 * CDP sessions keep their state in the store (DESIGN §3 "CDP sessions"): a client's own
 * Playwright (connectOverCDP) logs in, closes, and a render of the same session sees the
 * cookie and localStorage at once; and the other way round. Real Chromium, memory backend.
 */
import { chromium } from 'playwright-core';
import { auth, CdpStack, eventually, startCdpStack } from './support/cdp';

jest.setTimeout(90_000);

describe('CDP: state kept in the session', () => {
  let stack: CdpStack;

  beforeAll(async () => {
    stack = await startCdpStack();
  });

  afterAll(async () => {
    await stack?.close();
  });

  const render = (sessionId: string, path: string) => stack.render(sessionId, path);

  it('Playwright logs in over CDP; browser.close(); a render right after sees the cookie and localStorage', async () => {
    const browser = await chromium.connectOverCDP(stack.cdpUrl('pw-login'), { headers: auth() });
    const [context] = browser.contexts();
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(stack.site.url('/login'));
    await expect(page.locator('h1').textContent()).resolves.toBe('Logged in');
    await browser.close();

    const after = await render('pw-login', '/whoami');
    expect(after.status).toBe(200);
    expect(after.body.html).toContain('sid=abc123');
    expect(after.body.html).toContain('<pre id="token">t-123</pre>');
    // The connection was one request, the render another.
    expect(after.body.session.state.request_count).toBe(2);
    expect(after.body.session.state.last_url).toBe(stack.site.url('/whoami'));
  });

  it('a connection after a render sees the render\'s cookie and localStorage', async () => {
    const login = await render('render-first', '/login');
    expect(login.status).toBe(200);

    const browser = await chromium.connectOverCDP(stack.cdpUrl('render-first'), { headers: auth() });
    const page = browser.contexts()[0].pages()[0] ?? (await browser.contexts()[0].newPage());
    await page.goto(stack.site.url('/whoami'));
    await expect(page.locator('#cookie').textContent()).resolves.toBe('sid=abc123');
    await expect(page.locator('#token').textContent()).resolves.toBe('t-123');
    await browser.close();

    // GET does not wait for the save (a render does): the page the client left is recorded soon after.
    const session = () => stack.api.inject({ url: '/v1/sessions/render-first', headers: auth() });
    await eventually(async () => (await session()).body.state.last_url === stack.site.url('/whoami'), 30_000);
    expect((await session()).body.state.request_count).toBe(2);
  });
});
