import { GCProfiler, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Pool } from 'undici';
import { bootApp, BootedApp } from './support/app';
import { RENDERER_TOKEN } from './support/renderer';

/**
 * A request's objects die with the request. Fastify 5.11's body parser bound each body's
 * callback with AsyncResource.bind, and with it the whole request (IncomingMessage, reply,
 * handler state) outlived the next scavenge: every request with a body was copied twice and
 * promoted to the old generation, about 5 KB per
 * `POST /v1/render`, slower scavenges, and the promoted garbage brought mark-compacts (P2 in
 * bench/, issue 10). Fixed by Fastify 5.12 (fastify#7012), which Nest's adapter is made to use
 * (package.json overrides).
 *
 * Measured as what the scavenges during a run of requests promote: the old generation's growth
 * across each scavenge (v8.GCProfiler), not its growth over the run, which V8's own choices
 * (pretenuring, a marking cycle) also move. The requests are refused by the URL policy (422), so
 * no renderer is involved; the body is parsed, validated and answered as any render's.
 */

jest.setTimeout(60_000);

const KEY = 'key-request-lifetime-01';
const REQUESTS = 10_000;
/**
 * Promoted bytes allowed per request. With the binding 6.6 KB were (every scavenge promoted the
 * requests of the cycle before it); without it 570-650 B (on Node 20, see onSteadyNode).
 */
const MAX_PROMOTED_PER_REQUEST = 2000;

setFlagsFromString('--expose-gc');
const fullGc = runInNewContext('gc') as () => void;

type GcRecord = ReturnType<GCProfiler['stop']> extends infer R ? (R extends { statistics: (infer S)[] } ? S : never) : never;
const oldSpace = (phase: GcRecord['beforeGC']): number => phase.heapSpaceStatistics.find((space) => space.spaceName === 'old_space')?.spaceUsedSize ?? 0;

describe('request lifetime', () => {
  let t: BootedApp;
  let client: Pool;

  beforeAll(async () => {
    // An unreachable renderer: the URL policy refuses these renders before any is sent.
    t = await bootApp({ api_keys: [`${KEY}:alpha`], headless_urls: ['http://127.0.0.1:9'], headless_token: RENDERER_TOKEN });
    // Over a socket, as clients send them (inject's own request objects live longer).
    await t.app.listen(0, '127.0.0.1');
    client = new Pool(await t.app.getUrl(), { connections: 1 });
  });
  afterAll(async () => {
    await client.close();
    await t.close();
  });

  const body = JSON.stringify({ url: 'http://10.1.2.3/page' });
  const refusedRender = async (): Promise<number> => {
    const res = await client.request({
      method: 'POST',
      path: '/v1/render',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body,
    });
    await res.body.dump();
    return res.statusCode;
  };

  // On Node 24 (V8 13), in about half the runs of this test process every scavenge promoted all of
  // its survivors (6-8 MB each: the requests of the cycle before it) with Fastify 5.12 too, after
  // a full GC and with the median taken; the API process itself behind a stand-in renderer did
  // not (5-27 KB a scavenge, three runs). Until that is understood the measurement is made where
  // it is steady: Node 20, 570-650 B a request with 5.12, 6.6 KB with 5.11.
  const onSteadyNode = process.versions.node.startsWith('20.') ? it : it.skip;

  onSteadyNode('does not promote the objects of POST /v1/render requests', async () => {
    // Warm: the route's code compiled, its caches filled.
    for (let i = 0; i < 500; i++) expect(await refusedRender()).toBe(422);
    // A full GC first: a marking cycle of the test process's own heap under way would make V8
    // promote every scavenge's survivors, whatever they are.
    fullGc();
    const profiler = new GCProfiler();
    profiler.start();
    for (let i = 0; i < REQUESTS; i++) {
      const status = await refusedRender();
      if (status !== 422) throw new Error(`request ${i} answered ${status}`);
    }
    const scavenges = (profiler.stop()?.statistics ?? []).filter((gc) => gc.gcType === 'Scavenge');
    // These requests allocate several young generations: the measurement saw scavenges.
    expect(scavenges.length).toBeGreaterThan(2);
    // The median scavenge's: with the binding every scavenge promoted about as much; without it
    // one may still promote a burst of something else (a marking cycle under way), which the sum
    // would spread over every request.
    const promoted = scavenges.map((gc) => Math.max(0, oldSpace(gc.afterGC) - oldSpace(gc.beforeGC))).sort((a, b) => a - b);
    const perRequest = (promoted[promoted.length >> 1] * scavenges.length) / REQUESTS;
    expect(perRequest).toBeLessThan(MAX_PROMOTED_PER_REQUEST);
  });
});
