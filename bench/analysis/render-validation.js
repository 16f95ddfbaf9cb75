'use strict';
/**
 * Diagnostic (not part of `npm run bench`): what validating a renderer's `POST /render` body
 * costs, per body, with the strict ValidationPipe against `ValidBody`'s path (the compiled check
 * when it takes the body, common/fast-validation.ts), in one process, alternated. The body is
 * what the API sends for a session render: url, context and queue keys, the session's storage
 * state and its state_seq. States: empty, 5 cookies + 2 x 5 localStorage entries, 30 cookies +
 * 2 x 20 entries. Each figure includes the JSON.parse of the body (as Fastify does it).
 *
 *   npm run build && taskset -c 1 node bench/analysis/render-validation.js
 */
const path = require('node:path');

const DIST = path.resolve(__dirname, '..', '..', 'dist');
require('reflect-metadata');
const { createValidationPipe, createBodyValidator } = require(path.join(DIST, 'common', 'validation'));
const { RenderRequestDto } = require(path.join(DIST, 'renderer-rpc'));

const ROUNDS = 4;
const PER_ROUND = 2000;

function body(cookieCount, entriesPerOrigin) {
  const cookies = Array.from({ length: cookieCount }, (_, i) => ({
    name: `c${i}`, value: `${'v'.repeat(40)}${i}`, domain: '127.0.0.2', path: '/', expires: -1, httpOnly: false, secure: false, sameSite: 'Lax',
  }));
  const origins = cookieCount === 0 ? [] : ['http://127.0.0.2', 'http://127.0.0.3'].map((origin) => ({
    origin, localStorage: Array.from({ length: entriesPerOrigin }, (_, i) => ({ name: `k${i}`, value: 'x'.repeat(100) })),
  }));
  return JSON.stringify({ url: 'http://127.0.0.2/static', context_key: 'a'.repeat(64), queue_key: 'b'.repeat(64), storage_state: { cookies, origins }, state_seq: 3 });
}

async function timePerBody(validate, text) {
  const started = process.hrtime.bigint();
  for (let i = 0; i < PER_ROUND; i++) await validate(JSON.parse(text));
  return Number(process.hrtime.bigint() - started) / PER_ROUND / 1000;
}

async function main() {
  const pipe = createValidationPipe();
  const sides = {
    pipe: (b) => pipe.transform(b, { type: 'body', metatype: RenderRequestDto }),
    ValidBody: createBodyValidator(RenderRequestDto),
  };
  for (const [label, text] of [['empty state', body(0, 0)], ['5 cookies, 2 x 5 entries', body(5, 5)], ['30 cookies, 2 x 20 entries', body(30, 20)]]) {
    const us = { pipe: [], ValidBody: [] };
    for (const validate of Object.values(sides)) await timePerBody(validate, text); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 ? ['ValidBody', 'pipe'] : ['pipe', 'ValidBody'];
      for (const side of order) us[side].push(await timePerBody(sides[side], text));
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    const [p, v] = [median(us.pipe), median(us.ValidBody)];
    console.log(`${label} (${text.length} B): pipe ${p.toFixed(1)} us, ValidBody ${v.toFixed(1)} us per body (${(p / v).toFixed(1)}x)`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
