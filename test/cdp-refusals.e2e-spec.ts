/**
 * Refusals before the upgrade are ordinary JSON errors in the API's error shape and use up no
 * request (DESIGN §3 "CDP sessions"): 401 without a key, ?token= accepted on this route, 409 for
 * a second connection and for a render of a connected session, 429 at max_requests, 503 +
 * Retry-After at CDP_MAX_CONNECTIONS; another tenant's session id is the caller's own session.
 */
import { chromium } from 'playwright-core';
import { WebSocket } from 'ws';
import { auth, CdpStack, closed, KEY_A, KEY_B, startCdpStack, tryUpgrade } from './support/cdp';

jest.setTimeout(90_000);

const ERROR_KEYS = ['error', 'message', 'request_id', 'statusCode'];

describe('CDP: refusals before the upgrade', () => {
  let stack: CdpStack;

  beforeAll(async () => {
    stack = await startCdpStack({}, { cdp_max_connections: 2 });
  });

  afterAll(async () => {
    await stack?.close();
  });

  const session = (id: string, key = KEY_A) => stack.api.inject({ url: `/v1/sessions/${id}`, headers: auth(key) });
  const open = async (id: string, headers: Record<string, string> = auth()): Promise<WebSocket> => {
    const socket = new WebSocket(stack.cdpUrl(id), { headers });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    return socket;
  };
  const disconnect = async (socket: WebSocket): Promise<void> => {
    const done = closed(socket);
    socket.close();
    await done;
  };

  it('401 without a key (JSON error shape), and with a wrong one; nothing is created', async () => {
    const variants: Record<string, string>[] = [{}, { authorization: 'Bearer not-a-key-at-all' }];
    for (const headers of variants) {
      const refused = await tryUpgrade(stack.cdpUrl('no-key'), headers);
      expect(refused).not.toBe('open');
      if (refused === 'open') return;
      expect(refused.status).toBe(401);
      expect(Object.keys(refused.body).sort()).toEqual(ERROR_KEYS);
      expect(refused.headers['www-authenticate']).toMatch(/^Bearer/);
    }
    expect((await session('no-key')).status).toBe(404);
  });

  it('takes the key as ?token= on this route', async () => {
    const socket = new WebSocket(stack.cdpUrl('by-query', `token=${KEY_A}`));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    await disconnect(socket);
    expect((await session('by-query')).body.state.request_count).toBe(1);
    const refused = await tryUpgrade(stack.cdpUrl('by-query', 'token=wrong-token-123'));
    expect(refused !== 'open' && refused.status).toBe(401);
  });

  it('a second connection to a connected session is 409 "session in use", and so is a render; neither uses a request', async () => {
    const first = await open('busy');
    const second = await tryUpgrade(stack.cdpUrl('busy'), auth());
    expect(second !== 'open' && second.status).toBe(409);
    expect(second !== 'open' && second.body.message).toMatch(/session in use/);
    const render = await stack.render('busy', '/static');
    expect(render.status).toBe(409);
    expect(render.body.message).toMatch(/session in use/);
    expect((await session('busy')).body.state.request_count).toBe(1);
    await disconnect(first);

    // Free again once the first connection's state is saved.
    const again = await open('busy');
    await disconnect(again);
    expect((await session('busy')).body.state.request_count).toBe(2);
  });

  it('429 with count/max when the request limit is reached, before the upgrade', async () => {
    await stack.api.inject({ method: 'POST', url: '/v1/sessions', headers: auth(), payload: { session_id: 'limited', max_requests: 1 } });
    await disconnect(await open('limited'));
    const refused = await tryUpgrade(stack.cdpUrl('limited'), auth());
    expect(refused !== 'open' && refused.status).toBe(429);
    expect(refused !== 'open' && refused.body.message).toContain('1/1');
    expect((await session('limited')).body.state.request_count).toBe(1);
  });

  it("503 + Retry-After beyond the renderer's CDP_MAX_CONNECTIONS; the refused request is given back", async () => {
    const held = [await open('cap-1'), await open('cap-2')];
    const refused = await tryUpgrade(stack.cdpUrl('cap-3'), auth());
    expect(refused !== 'open' && refused.status).toBe(503);
    expect(refused !== 'open' && Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(refused !== 'open' && refused.body.message).toMatch(/CDP_MAX_CONNECTIONS/);
    expect((await session('cap-3')).body.state.request_count).toBe(0);
    await Promise.all(held.map(disconnect));
  });

  it("tenant B cannot reach tenant A's session: the same id is B's own, without A's cookies", async () => {
    const a = await chromium.connectOverCDP(stack.cdpUrl('shared-name'), { headers: auth(KEY_A) });
    await a.contexts()[0].pages()[0].goto(stack.site.url('/login'));
    await a.close();

    const b = await chromium.connectOverCDP(stack.cdpUrl('shared-name'), { headers: auth(KEY_B) });
    const page = b.contexts()[0].pages()[0];
    await page.goto(stack.site.url('/whoami'));
    await expect(page.locator('#cookie').textContent()).resolves.toBe('');
    await expect(page.locator('#token').textContent()).resolves.toBe('null');
    expect(await b.contexts()[0].cookies()).toEqual([]);
    await b.close();

    expect((await session('shared-name', KEY_A)).body.state.request_count).toBe(1);
    expect((await session('shared-name', KEY_B)).body.state.request_count).toBe(1);
  });

  it('is documented in OpenAPI, with its ?token= parameter', async () => {
    const doc = await stack.api.inject('/docs-json');
    const route = doc.body.paths['/v1/sessions/{id}/cdp']?.get;
    expect(route?.summary).toMatch(/CDP/);
    expect(route.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['id', 'token']));
    expect(Object.keys(route.responses)).toEqual(expect.arrayContaining(['101', '401', '409', '429', '503']));
  });

  it('a plain GET (no upgrade) is a 400 naming the problem', async () => {
    const res = await stack.api.inject({ url: '/v1/sessions/plain/cdp', headers: auth() });
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(/WebSocket/);
  });
});
