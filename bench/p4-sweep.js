'use strict';
/**
 * P4: event-loop delay while 1,000,000 expired sessions are swept from the memory backend.
 * In a child (`node --expose-gc`, pinned to the server core): create 1M sessions with a 1 s
 * TTL at `now`, gc, enable perf_hooks.monitorEventLoopDelay({ resolution: 1 }), then
 * `await backend.sweep(now + 2000)`; the histogram stays on 100 ms after the sweep returns
 * so the collection of what it freed is counted too. Target: max delay <= 20 ms.
 * Variant "touched": half of the sessions were renewed into the next expiry bucket before the
 * sweep, so it also walks their stale filings (1.5M filings, 1M removals).
 */
const path = require('node:path');
const { runMeasurementChild, emitResult, schedStat, helperThreadsQuiet, API_NODE_FLAGS } = require('./lib/proc');
const { figure } = require('./lib/report');
const { round, median } = require('./lib/load');

const SESSIONS = 1_000_000;
const TARGET_MAX_DELAY_MS = 20;
const VARIANTS = ['fresh', 'touched'];
/**
 * Fresh children per variant. A shared machine is noisy: each run measures how long other
 * processes held the pinned core (/proc/self/schedstat wait of the main thread, less what this
 * process's own GC/libuv threads used), and disturbed runs are left out of the judged figures.
 */
const RUNS = 3;
/** A run in which other processes held the pinned core longer than this is "disturbed". */
const CLEAN_WAIT_MS = 2;
const GC_KINDS = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function measureChild(variant, count) {
  const { monitorEventLoopDelay, PerformanceObserver, performance } = require('node:perf_hooks');
  const { loadBackend, createSessions, gcTwice } = require('./lib/sessions');
  const MemorySessionBackend = loadBackend();
  const backend = new MemorySessionBackend();

  // Half a second into a second, so a renewal 600 ms later lands in the next 1 s bucket.
  const now = Math.floor(Date.now() / 1000) * 1000 + 500;
  const { ids } = await createSessions(backend, count, { now, ttlSeconds: 1, keepIds: variant === 'touched' });
  let touched = 0;
  if (variant === 'touched') {
    for (let i = 0; i < count; i += 2) if (await backend.touch('default', ids[i], now + 600)) touched++;
  }
  gcTwice();
  // The forced GCs leave page sweeping to V8's worker threads: not the sweep's own work.
  const settle = await helperThreadsQuiet();

  const gcPauses = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcPauses.push({ kind: GC_KINDS[e.detail?.kind] ?? String(e.detail?.kind), ms: e.duration });
  });
  observer.observe({ entryTypes: ['gc'] });
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  await sleep(20);
  const sched0 = schedStat();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const removed = await backend.sweep(now + 2000);
  const sweepMs = performance.now() - t0;
  await sleep(100);
  histogram.disable();
  const windowMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const sched1 = schedStat();
  observer.disconnect();

  const ms = (ns) => round(ns / 1e6, 3);
  const processCpuMs = (cpu.user + cpu.system) / 1000;
  const waitMs = sched0 && sched1 ? sched1.waitMs - sched0.waitMs : null;
  const ownThreadsMs = sched0 && sched1 ? Math.max(0, processCpuMs - (sched1.runMs - sched0.runMs)) : null;
  emitResult({
    variant,
    sessions: count,
    touched,
    removed,
    left: (await backend.metrics(now + 2000)).activeSessions,
    sweep_ms: round(sweepMs, 1),
    window_ms: round(windowMs, 1),
    /** How long the child waited for its helper threads to go quiet after the forced GCs. */
    settle_ms: settle.waitedMs,
    settled: settle.quiet,
    /** CPU of all the process's threads (main + GC helpers) in the window. */
    process_cpu_ms: round(processCpuMs, 1),
    /** Time the main thread was runnable but waiting for its core, in the window, ... */
    main_thread_wait_ms: waitMs === null ? null : round(waitMs, 1),
    /** ... of which this process's own threads (GC helpers, libuv) can account for at most this; */
    own_threads_cpu_ms: ownThreadsMs === null ? null : round(ownThreadsMs, 1),
    /** the rest is other processes on the pinned core: the noise. */
    external_wait_ms: waitMs === null ? null : round(Math.max(0, waitMs - ownThreadsMs), 1),
    delay_ms: {
      max: ms(histogram.max),
      p99: ms(histogram.percentile(99)),
      p50: ms(histogram.percentile(50)),
      mean: ms(histogram.mean),
      samples: histogram.count,
    },
    gc: {
      pauses: gcPauses.length,
      total_ms: round(gcPauses.reduce((sum, p) => sum + p.ms, 0), 1),
      max_ms: round(Math.max(0, ...gcPauses.map((p) => p.ms)), 2),
      by_kind: gcPauses.reduce((acc, p) => ((acc[p.kind] = (acc[p.kind] ?? 0) + 1), acc), {}),
    },
  });
}

async function run({ log, tmpDir }) {
  const figures = [];
  const details = { runs_per_variant: RUNS };
  const warnings = [];
  for (const variant of VARIANTS) {
    const runs = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await runMeasurementChild({
        script: __filename,
        args: ['--child', variant, String(SESSIONS)],
        nodeFlags: ['--expose-gc', ...API_NODE_FLAGS],
        logFile: path.join(tmpDir, `p4-${variant}-${i}.log`),
      });
      runs.push(r);
      log(
        `  ${variant} run ${i + 1}/${RUNS}: removed ${r.removed}, sweep ${r.sweep_ms} ms, max delay ${r.delay_ms.max} ms, ` +
          `p99 ${r.delay_ms.p99} ms, longest GC ${r.gc.max_ms} ms, helper threads ${r.own_threads_cpu_ms} ms of CPU${r.settled ? '' : ' (still busy when the window opened)'}, main thread waited for its core ${r.main_thread_wait_ms} ms (other processes ~${r.external_wait_ms} ms)`,
      );
    }
    // Runs in which other processes held the core longer than CLEAN_WAIT_MS are disturbed. The
    // figures judged are the medians over the undisturbed runs or, when there is none, those of
    // the least disturbed run. The medians over all runs are kept for information.
    const clean = runs.filter((r) => (r.external_wait_ms ?? 0) <= CLEAN_WAIT_MS);
    const judged =
      clean.length > 0 ? clean : [runs.reduce((best, r) => ((r.external_wait_ms ?? 0) < (best.external_wait_ms ?? 0) ? r : best))];
    const summary = (set) => {
      const m = (pick) => round(median(set.map(pick)), 3);
      return {
        max_delay_ms: m((r) => r.delay_ms.max),
        p99_delay_ms: m((r) => r.delay_ms.p99),
        sweep_ms: m((r) => r.sweep_ms),
        gc_max_ms: m((r) => r.gc.max_ms),
        own_threads_cpu_ms: m((r) => r.own_threads_cpu_ms ?? 0),
        main_thread_wait_ms: m((r) => r.main_thread_wait_ms ?? 0),
        external_wait_ms: m((r) => r.external_wait_ms ?? 0),
      };
    };
    details[variant] = { judged_runs: judged.map((r) => runs.indexOf(r) + 1), judged: summary(judged), median_all_runs: summary(runs), runs };
    const med = details[variant].judged;
    if (clean.length === 0) {
      warnings.push(`${variant}: no undisturbed run (other processes held the core >= ${med.external_wait_ms} ms): the max delay may include noise`);
    }
    const fresh = variant === 'fresh';
    const label = fresh ? '' : ' [half touched]';
    const how = clean.length > 0 ? `median of the ${clean.length} undisturbed of ${RUNS} runs` : `least disturbed of ${RUNS} runs`;
    const each = runs.map((r) => `${r.delay_ms.max} (others ${r.external_wait_ms})`).join(', ');
    figures.push(
      figure(`${variant}_max_delay_ms`, `max event-loop delay${label}`, med.max_delay_ms, 'ms', fresh ? { op: '<=', value: TARGET_MAX_DELAY_MS } : null,
        `${fresh ? '' : 'bonus variant; '}${how}; each run, ms (core held by others, ms): ${each}`),
      figure(`${variant}_p99_delay_ms`, `p99 event-loop delay${label}`, med.p99_delay_ms, 'ms'),
      figure(`${variant}_sweep_ms`, `sweep duration${label}`, med.sweep_ms, 'ms'),
      figure(`${variant}_removed`, `sessions removed${label} (every run)`, Math.min(...runs.map((r) => r.removed)), '', { op: '==', value: SESSIONS }),
      figure(`${variant}_gc_max_ms`, `longest GC pause in the window${label}`, med.gc_max_ms, 'ms'),
      figure(`${variant}_helper_threads_cpu_ms`, `V8 helper threads' CPU in the window${label}`, med.own_threads_cpu_ms, 'ms', null,
        fresh ? "JIT compiles and GC work off the main thread; they share the pinned core with it, so it counts in the delay" : undefined),
      figure(`${variant}_external_wait_ms`, `core held by other processes${label}`, med.external_wait_ms, 'ms', null,
        fresh ? 'main thread runnable but the pinned core taken by other processes (own GC threads excluded); 0 on a quiet machine' : undefined),
    );
  }
  return { figures, warnings, details };
}

if (require.main === module && process.argv[2] === '--child') {
  measureChild(process.argv[3], Number(process.argv[4])).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

module.exports = {
  id: 'p4-sweep',
  title: 'P4  memory backend: sweeping 1,000,000 expired sessions, event-loop delay',
  run,
};
