import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { CDP_CLOSED_BY_CLIENT } from '../renderer-rpc';
import { CdpProxy } from './cdp-proxy';

/** Just what CdpProxy uses of a ws socket. */
class FakeSocket extends EventEmitter {
  readyState = 1;
  sent: unknown[] = [];
  closedWith: [number, string] | null = null;

  send(data: unknown): void {
    this.sent.push(data);
  }

  close(code: number, reason: string): void {
    this.readyState = 3;
    this.closedWith = [code, reason];
    this.emit('close', code);
  }
}

describe('CdpProxy', () => {
  let client: FakeSocket;
  let upstream: FakeSocket;
  const start = (idleMs = 1000, maxMs = 10_000) =>
    new CdpProxy(client as unknown as WebSocket, upstream as unknown as WebSocket, { idleMs, maxMs });

  beforeEach(() => {
    jest.useFakeTimers();
    client = new FakeSocket();
    upstream = new FakeSocket();
  });
  afterEach(() => jest.useRealTimers());

  it('passes messages both ways', () => {
    start();
    client.emit('message', Buffer.from('{"id":1}'), false);
    upstream.emit('message', Buffer.from('{"id":1,"result":{}}'), false);
    expect(upstream.sent).toEqual([Buffer.from('{"id":1}')]);
    expect(client.sent).toEqual([Buffer.from('{"id":1,"result":{}}')]);
  });

  it('is idle only after idleMs without a client message; each message starts the period again', async () => {
    const proxy = start(1000);
    let reason: string | undefined;
    void proxy.ended.then((r) => (reason = r));
    jest.advanceTimersByTime(800);
    client.emit('message', Buffer.from('{}'), false);
    jest.advanceTimersByTime(800);
    // Messages from the browser do not keep the client "active".
    upstream.emit('message', Buffer.from('{}'), false);
    expect(client.closedWith).toBeNull();
    jest.advanceTimersByTime(250);
    await Promise.resolve();
    expect(client.closedWith).toEqual([1008, 'idle for 1 s']);
    expect(upstream.closedWith).toEqual([1000, '']);
    expect(reason).toBe('idle');
  });

  it('closes at maxMs however busy the client is', async () => {
    const proxy = start(1000, 3000);
    for (let i = 0; i < 5; i++) {
      jest.advanceTimersByTime(700);
      client.emit('message', Buffer.from('{}'), false);
    }
    await expect(proxy.ended).resolves.toBe('max_duration');
    expect(client.closedWith).toEqual([1008, 'connection reached its maximum of 3 s']);
  });

  it("tells the client's Browser.close (the renderer's close code) from a lost renderer", async () => {
    const closedByClient = start();
    upstream.close(CDP_CLOSED_BY_CLIENT, 'Browser.close');
    await expect(closedByClient.ended).resolves.toBe('browser_close');
    expect(client.closedWith).toEqual([1000, 'Browser.close']);

    client = new FakeSocket();
    upstream = new FakeSocket();
    const lost = start();
    upstream.close(1006, '');
    await expect(lost.ended).resolves.toBe('renderer');
    expect(client.closedWith).toEqual([1011, 'renderer connection lost']);
  });

  it('ends once: the first reason wins', async () => {
    const proxy = start();
    proxy.close('deleted', 1008, 'session deleted');
    proxy.close('expired', 1008, 'session expired');
    client.emit('close');
    await expect(proxy.ended).resolves.toBe('deleted');
    expect(client.closedWith).toEqual([1008, 'session deleted']);
  });
});
