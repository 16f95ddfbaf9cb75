import { loadConfig } from '../config/app-config';
import type { EmbeddedRenderer } from './embedded-renderer.service';
import { RendererPool } from './renderer-pool';

const URLS = ['http://r1:9123', 'http://r2:9123', 'http://r3:9123'];
const pool = (urls: string[]): RendererPool =>
  new RendererPool(loadConfig({ env: {}, overrides: { headless_urls: urls } }), {} as EmbeddedRenderer);

describe('RendererPool (rendezvous hashing)', () => {
  it('ranks a key the same way every time, and spreads keys over renderers', () => {
    const p = pool(URLS);
    const first = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const key = `session-${i}`;
      const top = p.rank(key)[0].url;
      expect(p.rank(key)[0].url).toBe(top);
      first.set(top, (first.get(top) ?? 0) + 1);
    }
    for (const url of URLS) expect(first.get(url)).toBeGreaterThan(800);
  });

  it('moves only the sessions of a renderer that leaves', () => {
    const all = pool(URLS);
    const without = pool(URLS.filter((u) => u !== 'http://r2:9123'));
    for (let i = 0; i < 1000; i++) {
      const key = `s${i}`;
      const before = all.rank(key).map((r) => r.url);
      const after = without.rank(key)[0].url;
      // A session keeps its renderer unless it was on r2; then it goes to its second choice.
      expect(after).toBe(before[0] === 'http://r2:9123' ? before[1] : before[0]);
    }
  });

  it('round-robins renders without a session', () => {
    const p = pool(URLS);
    const firsts = [0, 1, 2, 3].map(() => p.rank(null)[0].url);
    expect(firsts).toEqual([URLS[0], URLS[1], URLS[2], URLS[0]]);
  });
});
