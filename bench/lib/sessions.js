'use strict';
/** Session inputs for the in-process backend benchmarks (P3, P4), shaped like the store's. */
const path = require('node:path');
const { randomFillSync } = require('node:crypto');

const ROOT = path.resolve(__dirname, '..', '..');
const BACKEND_MODULE = path.join(ROOT, 'dist', 'session', 'backends', 'memory-session.backend.js');

function loadBackend() {
  return require(BACKEND_MODULE).MemorySessionBackend;
}

const pool = Buffer.alloc(12 * 4096);
let poolOffset = pool.length;

/**
 * A fresh id built the way SessionStore builds one (`rpc_session_${24 hex chars}`, a template
 * literal over a hex string), so the stored string has the same shape as in the app.
 * Random; create() reports a duplicate as 'exists' and callers retry.
 */
function newSessionId() {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const hex = pool.toString('hex', poolOffset, poolOffset + 12);
  poolOffset += 12;
  return `rpc_session_${hex}`;
}

const LIMITS = Object.freeze({ maxSessions: 2e6, maxPerTenant: 2e6, maxBytesPerTenant: 2 ** 40 });

function sessionConfig(ttlSeconds) {
  return { ttlSeconds, autoRenew: true, maxRequests: 0, trackMetrics: true };
}

/**
 * Creates `count` sessions at time `now` (or, with `stepMs`, the i-th at now + i * stepMs, as
 * sessions created over time are); returns their ids only if `keepIds`, and the slowest create.
 */
async function createSessions(backend, count, { now, ttlSeconds, keepIds = false, stepMs = 0 }) {
  const ids = keepIds ? new Array(count) : null;
  let duplicates = 0;
  let slowestMs = 0;
  let slowestAt = -1;
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    let outcome;
    let id;
    do {
      id = newSessionId();
      const at = stepMs === 0 ? now : now + i * stepMs;
      outcome = await backend.create({ tenant: 'default', id, config: sessionConfig(ttlSeconds) }, LIMITS, at);
      if (outcome.kind === 'exists') duplicates++;
    } while (outcome.kind === 'exists');
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms > slowestMs) {
      slowestMs = ms;
      slowestAt = i + 1;
    }
    if (outcome.kind !== 'created') throw new Error(`create #${i} returned ${outcome.kind}`);
    if (ids) ids[i] = id;
  }
  /** The slowest single create() (ms) and which session it made (1-based). */
  return { ids, duplicates, slowest: { ms: Number(slowestMs.toFixed(2)), at: slowestAt } };
}

function gcTwice() {
  global.gc();
  global.gc();
}

module.exports = { ROOT, BACKEND_MODULE, loadBackend, newSessionId, sessionConfig, createSessions, LIMITS, gcTwice };
