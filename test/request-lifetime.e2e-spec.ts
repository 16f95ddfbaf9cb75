import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * A request's objects die with the request. Fastify 5.11's body parser bound each body's
 * callback with AsyncResource.bind, and with it the whole request (IncomingMessage, reply,
 * handler state) outlived the next scavenge: every request with a body was copied twice and
 * promoted to the old generation, about 5 KB per `POST /v1/render` in the API, slower
 * scavenges, and the promoted garbage brought mark-compacts (P2 in bench/, issue 10). Fixed by
 * Fastify 5.12 (fastify#7012), which Nest's adapter is made to use (package.json overrides).
 *
 * Measured in a process of its own (fixtures/body-lifetime.js: the Fastify Nest's adapter
 * loads, a POST route, requests over a socket), because this one's heap is not steady: in a
 * full run, with the fix in place, every scavenge of the test process promoted all of its
 * survivors, whatever they were (5.7 KB a request, as the bug). There, the median scavenge's
 * old-generation growth per request is 72-82 B with 5.12 and 2.6-5.4 KB with 5.11.
 */

jest.setTimeout(60_000);

const MAX_PROMOTED_BYTES_PER_REQUEST = 1000;

interface Lifetime {
  fastify: string;
  scavenges: number;
  promotedPerRequest: number;
}

describe('request lifetime', () => {
  it("does not promote the objects of requests with a body, on the Fastify Nest's adapter loads", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [join(__dirname, 'fixtures', 'body-lifetime.js')], {
      env: { ...process.env, REQUESTS: '10000' },
    });
    const measured = JSON.parse(stdout) as Lifetime;
    // The adapter's Fastify is the one this package declares, not one it pins for itself.
    expect(measured.fastify).toBe((require('fastify/package.json') as { version: string }).version);
    // 10,000 requests allocate several young generations: the measurement saw scavenges.
    expect(measured.scavenges).toBeGreaterThan(2);
    expect(measured.promotedPerRequest).toBeLessThan(MAX_PROMOTED_BYTES_PER_REQUEST);
  });
});
