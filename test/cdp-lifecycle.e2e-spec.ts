/**
 * How a CDP connection ends (DESIGN §3 "CDP sessions"), on real time: an auto-renew session
 * never expires while connected; without auto-renew the connection is closed at expiry (1008);
 * DELETE closes it (1008); no client message for CDP_IDLE_SECONDS closes it (pings do not count);
 * an auto-renew session does not expire while its browser starts, however long that takes.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { auth, CdpStack, closed, startCdpStack } from './support/cdp';

jest.setTimeout(90_000);

const IDLE_SECONDS = 3;

describe('CDP: connection lifetime', () => {
  let stack: CdpStack;

  beforeAll(async () => {
    stack = await startCdpStack({ cdp_idle_seconds: IDLE_SECONDS });
  });

  afterAll(async () => {
    await stack?.close();
  });

  const createSession = (id: string, body: object) =>
    stack.api.inject({ method: 'POST', url: '/v1/sessions', headers: auth(), payload: { session_id: id, ...body } });
  const getSession = (id: string) => stack.api.inject({ url: `/v1/sessions/${id}`, headers: auth() });

  const connect = async (id: string): Promise<WebSocket> => {
    const socket = new WebSocket(stack.cdpUrl(id), { headers: auth() });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    return socket;
  };

  /** A client at work: one CDP command every 500 ms, so that idleness never ends the connection. */
  const keepBusy = (socket: WebSocket): (() => void) => {
    let id = 0;
    const timer = setInterval(() => socket.send(JSON.stringify({ id: ++id, method: 'Browser.getVersion' })), 500);
    return () => clearInterval(timer);
  };

  it('a ttl-3s auto-renew session stays alive while connected for 6 s', async () => {
    expect((await createSession('renewed', { ttl_seconds: 3, auto_renew: true })).status).toBe(201);
    const socket = await connect('renewed');
    const stop = keepBusy(socket);
    let closedEarly: string | null = null;
    socket.once('close', (code, reason) => (closedEarly = `${code} ${reason.toString()}`));
    await new Promise((r) => setTimeout(r, 6000));
    stop();
    expect(closedEarly).toBeNull();
    const session = await getSession('renewed');
    expect(session.status).toBe(200);
    expect(Date.parse(session.body.expires_at)).toBeGreaterThan(Date.now());
    const done = closed(socket);
    socket.close();
    await done;
  });

  it('without auto-renew the connection is closed (1008) when the session expires', async () => {
    await createSession('mortal', { ttl_seconds: 2, auto_renew: false });
    const socket = await connect('mortal');
    const stop = keepBusy(socket);
    const started = Date.now();
    const end = await closed(socket);
    stop();
    expect(end).toEqual({ code: 1008, reason: 'session expired' });
    expect(Date.now() - started).toBeLessThan(3000);
    expect((await getSession('mortal')).status).toBe(404);
  });

  it('DELETE of the session closes its connection (1008)', async () => {
    const socket = await connect('deleted');
    const stop = keepBusy(socket);
    const end = closed(socket);
    expect((await stack.api.inject({ method: 'DELETE', url: '/v1/sessions/deleted', headers: auth() })).status).toBe(204);
    await expect(end).resolves.toEqual({ code: 1008, reason: 'session deleted' });
    stop();
  });

  it('no client message for CDP_IDLE_SECONDS closes it (1008); pings do not count', async () => {
    const socket = await connect('idle');
    const pings = setInterval(() => socket.ping(), 300);
    const started = Date.now();
    const end = await closed(socket);
    clearInterval(pings);
    expect(end).toEqual({ code: 1008, reason: `idle for ${IDLE_SECONDS} s` });
    expect(Date.now() - started).toBeGreaterThanOrEqual(IDLE_SECONDS * 1000 - 100);
    expect(Date.now() - started).toBeLessThan(IDLE_SECONDS * 1000 + 2000);
  });
});

describe('CDP: a browser slower to start than the session lives', () => {
  const LAUNCH_DELAY_S = 3;
  let dir: string;
  let stack: CdpStack;

  beforeAll(async () => {
    // The renderer's Chromium, started LAUNCH_DELAY_S late: a busy machine's launch.
    dir = mkdtempSync(join(tmpdir(), 'riptide-slow-chromium-'));
    const chromium = join(dir, 'chromium');
    writeFileSync(chromium, `#!/bin/sh\nsleep ${LAUNCH_DELAY_S}\nexec ${process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'} "$@"\n`);
    chmodSync(chromium, 0o755);
    stack = await startCdpStack({}, { chromium_path: chromium });
  });

  afterAll(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps an auto-renew session alive while its browser starts', async () => {
    const created = await stack.api.inject({ method: 'POST', url: '/v1/sessions', headers: auth(), payload: { session_id: 'slow', ttl_seconds: 2, auto_renew: true } });
    expect(created.status).toBe(201);
    const started = Date.now();
    const socket = new WebSocket(stack.cdpUrl('slow'), { headers: auth() });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    expect(Date.now() - started).toBeGreaterThanOrEqual(LAUNCH_DELAY_S * 1000); // outlived the TTL
    let closedEarly: string | null = null;
    socket.once('close', (code, reason) => (closedEarly = `${code} ${reason.toString()}`));
    socket.send(JSON.stringify({ id: 1, method: 'Browser.getVersion' }));
    await new Promise((r) => setTimeout(r, 1000)); // the connection's own first look at the session
    expect(closedEarly).toBeNull();
    expect((await stack.api.inject({ url: '/v1/sessions/slow', headers: auth() })).status).toBe(200);
    const done = closed(socket);
    socket.close();
    await done;
  });
});
