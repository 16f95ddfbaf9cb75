import type { Refusal } from './proxy/egress-proxy';
import { MAX_BLOCKED_REQUESTS, EgressLog } from './egress-log';

const http = (url: string): Refusal => ({ url, authority: new URL(url).host, host: new URL(url).hostname, reason: 'loopback' });
const tunnel = (authority: string): Refusal => ({ url: authority, authority, host: authority.split(':')[0], reason: 'loopback' });

describe('EgressLog', () => {
  it('gives tunnel refusals the URL the browser reported for them, once each', () => {
    const log = new EgressLog();
    log.add(tunnel('127.0.0.1:443'));
    log.add(tunnel('127.0.0.1:443'));
    log.add(tunnel('127.0.0.1:9000'));
    expect(log.browserFailed('https://127.0.0.1/a.js')).toBeDefined();
    expect(log.browserFailed('https://127.0.0.1/b.js')).toBeDefined();
    expect(log.browserFailed('https://127.0.0.1/c.js')).toBeUndefined();
    expect(log.blocked()).toEqual([
      { url: 'https://127.0.0.1/a.js', reason: 'loopback' },
      { url: 'https://127.0.0.1/b.js', reason: 'loopback' },
      // A WebSocket's tunnel is never reported as a failed request: its host:port is all there is.
      { url: '127.0.0.1:9000', reason: 'loopback' },
    ]);
  });

  it('matches plain-HTTP refusals by URL, and tells apart failures that were not refusals', () => {
    const log = new EgressLog();
    const refused = http('http://127.0.0.1:8080/x');
    log.add(refused);
    expect(log.browserFailed('http://127.0.0.2:8080/x')).toBeUndefined();
    expect(log.browserFailed('http://127.0.0.1:8080/x')).toBe(refused);
  });

  it('leaves out the refused navigation, repeats, and everything past the first 20', () => {
    const log = new EgressLog();
    const navigation = http('http://127.0.0.1/');
    log.add(navigation);
    log.add(http('http://127.0.0.1/')); // the browser's retry of the navigation
    for (let i = 0; i < 30; i++) log.add(http(`http://127.0.0.1/img${i % 25}`));
    const blocked = log.blocked(navigation);
    expect(blocked).toHaveLength(MAX_BLOCKED_REQUESTS);
    expect(blocked[0]).toEqual({ url: 'http://127.0.0.1/img0', reason: 'loopback' });
    expect(new Set(blocked.map((b) => b.url)).size).toBe(MAX_BLOCKED_REQUESTS);
  });
});
