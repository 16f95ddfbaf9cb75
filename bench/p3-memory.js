'use strict';
/**
 * P3: heap bytes per session in the memory backend with 1,000,000 live sessions.
 * The measurement runs in a child (`node --expose-gc`, pinned to the server core):
 * gc, heapUsed, create 1M sessions (ids built like the store's, so the id strings are part
 * of what is measured: a session must keep its id), gc, heapUsed again. Target <= 400 B.
 */
const path = require('node:path');
const { runMeasurementChild, emitResult, API_NODE_FLAGS } = require('./lib/proc');
const { figure } = require('./lib/report');

const SESSIONS = 1_000_000;
const TARGET_BYTES = 400;

/**
 * 'same-now': every create() gets the same `now` (the procedure as specified).
 * 'distinct-now': the i-th at now + i ms, as in the app where each request reads the clock;
 * then no two sessions share the boxed number for created_at/last_accessed.
 */
const VARIANTS = ['same-now', 'distinct-now'];

async function measureChild(variant, count) {
  const { loadBackend, createSessions, gcTwice } = require('./lib/sessions');
  const MemorySessionBackend = loadBackend();
  const now = Date.now();
  let backend = null;
  gcTwice();
  const before = process.memoryUsage();
  const t0 = process.hrtime.bigint();
  backend = new MemorySessionBackend();
  const { duplicates, slowest } = await createSessions(backend, count, { now, ttlSeconds: 1800, stepMs: variant === 'distinct-now' ? 1 : 0 });
  const createMs = Number(process.hrtime.bigint() - t0) / 1e6;
  gcTwice();
  const after = process.memoryUsage();
  // Read the backend after the measurement, so it cannot be collected before it.
  const active = (await backend.metrics(now + count)).activeSessions;
  emitResult({
    variant,
    sessions: active,
    duplicates_retried: duplicates,
    create_ms: Math.round(createMs),
    slowest_create_ms: slowest.ms,
    slowest_create_at: slowest.at,
    heap_used_before: before.heapUsed,
    heap_used_after: after.heapUsed,
    heap_bytes_per_session: (after.heapUsed - before.heapUsed) / active,
    rss_before: before.rss,
    rss_after: after.rss,
    rss_bytes_per_session: (after.rss - before.rss) / active,
    external_bytes_per_session: (after.external - before.external) / active,
  });
}

async function run({ log, tmpDir }) {
  const figures = [];
  const details = {};
  for (const variant of VARIANTS) {
    log(`  ${variant}: creating ${SESSIONS.toLocaleString('en-US')} sessions in a pinned child (node --expose-gc)…`);
    const r = await runMeasurementChild({
      script: __filename,
      args: ['--child', variant, String(SESSIONS)],
      nodeFlags: ['--expose-gc', ...API_NODE_FLAGS],
      logFile: path.join(tmpDir, `p3-${variant}.log`),
    });
    details[variant] = r;
    log(`    heap ${Math.round(r.heap_bytes_per_session)} B/session, rss ${Math.round(r.rss_bytes_per_session)} B/session, ${r.create_ms} ms`);
    const same = variant === 'same-now';
    const label = same ? '' : ' [distinct now]';
    figures.push(
      figure(`${variant}_heap_bytes_per_session`, `heap per session at 1M${label}`, Math.round(r.heap_bytes_per_session), 'B', { op: '<=', value: TARGET_BYTES },
        same ? 'all created with one `now`, as specified' : 'each created at its own ms, as in the app: created_at/last_accessed not shared'),
      figure(`${variant}_rss_bytes_per_session`, `rss per session (information)${label}`, Math.round(r.rss_bytes_per_session), 'B'),
      figure(`${variant}_sessions`, `live sessions measured${label}`, r.sessions, '', { op: '==', value: SESSIONS }),
      figure(`${variant}_create_ms`, `time to create them${label}`, r.create_ms, 'ms'),
      figure(`${variant}_slowest_create_ms`, `slowest single create()${label}`, r.slowest_create_ms, 'ms', null, `the ${r.slowest_create_at.toLocaleString('en-US')}th session`),
    );
  }
  return { figures, warnings: [], details };
}

if (require.main === module && process.argv[2] === '--child') {
  measureChild(process.argv[3], Number(process.argv[4])).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

module.exports = {
  id: 'p3-memory',
  title: 'P3  memory backend: bytes per session at 1,000,000 sessions',
  run,
};
