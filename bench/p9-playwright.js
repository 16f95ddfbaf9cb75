'use strict';
/**
 * P9: the renderer against Playwright driving the same Chromium directly, in the same run.
 *
 * Renderer: a standalone `node dist/headless/main.js`, called with `POST /render` (as the API
 * calls it). Baseline: `servers/playwright-direct.js`, playwright-core launching the same
 * Chromium with the renderer's own flags (PLAYWRIGHT_LAUNCH_ARGS from dist/), behind a tiny HTTP
 * server so both sides are called the same way. Both Node processes are pinned to the server
 * core once their Chromium is up; both Chromiums run unpinned (lib/render-stack.js).
 *
 * (1) warm session render (one context key, sequential) vs a reused Playwright page
 *     (`goto` + `content()`): p50 latency ratio, and Chromium CPU per render ratio.
 * (2) sessionless render (no context key) vs a new Playwright context per render.
 * (3) throughput at concurrency 4: 4 warm sessions vs 4 reused pages, req/s ratio.
 * (1)-(3) alternate the sides (ABBA over ROUNDS rounds); the renderer is idle before each run.
 * (4) memory per warm session: PSS of the renderer's Node process and all its Chromium
 *     processes before and after WARM_SESSIONS new warm sessions (each rendered once on
 *     /static, then frozen as the renderer parks them), delta / WARM_SESSIONS; Playwright's
 *     rate (contexts with a page parked on about:blank) beside it.
 */
const os = require('node:os');
const path = require('node:path');
const { figure } = require('./lib/report');
const { round } = require('./lib/load');
const proc = require('./lib/proc');
const stackLib = require('./lib/render-stack');

const ROUNDS = 4;
const RUN = { warm: 15, sessionless: 10, concurrent: 40 };
const CONCURRENCY = 4;
const WARM_SESSIONS = 100;
const PARK_BATCH = 10;
/** Time for Chromium to finish parking and exit processes before memory is read. */
const SETTLE_MS = 2000;
const TARGET = { latency: 1.1, cpu: 1.2, throughput: 0.9, memoryMb: 30 };

const quantile = (xs, q) => {
  const s = Float64Array.from(xs).sort();
  if (s.length === 0) return NaN;
  const i = (s.length - 1) * q;
  return s[Math.floor(i)] + (s[Math.ceil(i)] - s[Math.floor(i)]) * (i - Math.floor(i));
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** PSS (kB) and Chromium process count of a Node process and all its descendants. */
function treeMemory(child) {
  const chromium = proc.descendants(child.pid);
  return { pss_kb: [child.pid, ...chromium].reduce((sum, pid) => sum + proc.pssKb(pid), 0), processes: chromium.length };
}

/** CPU (ms) used so far by a Node process's Chromium (each process with its reaped children). */
const chromiumCpuMs = (child) => proc.descendants(child.pid).reduce((sum, pid) => sum + (proc.cpuTimeWithChildrenMs(pid) ?? 0), 0);

/** The baseline server, Chromium launched, its own threads then pinned like the renderer's. */
async function startPlaywright(tmpDir) {
  const port = await proc.freePort();
  const child = proc.spawnNode({
    args: [path.join(__dirname, 'servers', 'playwright-direct.js')],
    cpu: proc.canPin() ? `0-${os.cpus().length - 1}` : null,
    logFile: path.join(tmpDir, 'p9-playwright.log'),
    env: { PORT: String(port), CHROMIUM_PATH: stackLib.CHROMIUM },
  });
  await proc.waitForPort(port, { child, timeoutMs: 30000 });
  const base = `http://${proc.LOOPBACK}:${port}`;
  const ready = await fetch(`${base}/ready`);
  if (ready.status !== 200) throw new Error(`playwright-direct /ready: ${ready.status} ${await ready.text()}${proc.logTail(child)}`);
  return { child, base, pinned: proc.pinProcess(child.pid, proc.SERVER_CPU) };
}

async function run({ log, tmpDir }) {
  log(`  renderer (POST /render) vs Playwright-direct, same Chromium and flags; ${ROUNDS} ABBA rounds; then ${WARM_SESSIONS} warm sessions for memory`);
  const started = [];
  let renderer;
  const warnings = [];
  try {
    const site = await stackLib.startSite(tmpDir);
    started.push(site.child);
    // The pool must hold every warm session of the run, and none may be closed as idle before
    // the memory step is read (on a busy machine a step can outlast the default idle period).
    renderer = await stackLib.startRenderer(tmpDir, 'p9-renderer', {
      HEADLESS_MAX_CONTEXTS: String(WARM_SESSIONS + 2 * CONCURRENCY),
      HEADLESS_CONTEXT_IDLE_SECONDS: '86400',
    });
    started.push(renderer.child);
    const playwright = await startPlaywright(tmpDir);
    started.push(playwright.child);
    const url = site.url('/static');
    const problems = [];

    /**
     * One render on a side; resolves with the client-side latency (ms), or null on a bad answer.
     * A warm render must find its session's context, except the first one of the session.
     */
    const render = async (side, kind, slot, first = false) => {
      const r =
        side === 'renderer'
          ? await stackLib.postJson(`${renderer.base}/render`, {
              url,
              ...(kind === 'sessionless' ? {} : { context_key: stackLib.benchContextKey(`p9-${slot}`) }),
            }, stackLib.RENDERER_AUTH)
          : await stackLib.postJson(`${playwright.base}/${kind === 'sessionless' ? 'fresh' : `reused/${slot}`}`, { url });
      const ok =
        r.status === 200 &&
        (side === 'renderer' ? r.json?.html?.includes('<h1>static</h1>') && (kind === 'sessionless' || first || r.json.context_reused) : r.json?.html_bytes > 0);
      if (!ok) problems.push(`${side} ${kind}: ${r.status} ${r.text.slice(0, 200)}`);
      return ok ? r.ms : null;
    };
    const process_ = { renderer: renderer.child, playwright: playwright.child };

    /** One measured run: `count` renders over `workers` parallel loops; latencies, wall time, Chromium CPU. */
    const measureRun = async (side, kind, count, workers = 1) => {
      if (side === 'renderer') await stackLib.waitRendererIdle(renderer);
      const cpu0 = chromiumCpuMs(process_[side]);
      const t0 = performance.now();
      const latencies = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: workers }, async (_, worker) => {
          while (next < count) {
            next++;
            const ms = await render(side, kind, worker);
            if (ms !== null) latencies.push(ms);
          }
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      return { latencies, seconds, ok: latencies.length, req_per_s: latencies.length / seconds, chromium_cpu_ms: chromiumCpuMs(process_[side]) - cpu0 };
    };

    // Warm-up: sessions and reused pages created, code paths hot on both sides.
    for (const side of ['renderer', 'playwright']) {
      for (let slot = 0; slot < CONCURRENCY; slot++) for (let i = 0; i < 3; i++) await render(side, 'warm', slot, i === 0);
      for (let i = 0; i < 3; i++) await render(side, 'sessionless');
    }
    const warmupProblems = problems.splice(0);

    const runs = {
      warm: { renderer: [], playwright: [] },
      sessionless: { renderer: [], playwright: [] },
      concurrent: { renderer: [], playwright: [] },
    };
    for (const kind of Object.keys(runs)) {
      const sides = Object.keys(runs[kind]);
      for (let i = 0; i < ROUNDS; i++) {
        for (const side of i % 2 === 0 ? sides : [...sides].reverse()) {
          runs[kind][side].push(await measureRun(side, kind === 'concurrent' ? 'warm' : kind, RUN[kind], kind === 'concurrent' ? CONCURRENCY : 1));
        }
      }
    }

    // Memory: WARM_SESSIONS new warm sessions on the renderer, as many parked contexts on Playwright.
    await stackLib.waitRendererIdle(renderer);
    await sleep(SETTLE_MS);
    const memBefore = { renderer: treeMemory(renderer.child), playwright: treeMemory(playwright.child) };
    for (let i = 0; i < WARM_SESSIONS; i++) {
      const r = await stackLib.postJson(`${renderer.base}/render`, { url, context_key: stackLib.benchContextKey(`p9-mem-${i}`) }, stackLib.RENDERER_AUTH);
      if (r.status !== 200 || r.json?.context_reused !== false) problems.push(`memory session ${i}: ${r.status} ${r.text.slice(0, 200)}`);
    }
    // In batches: one request for all of them could outlast fetch's header timeout on a busy machine.
    for (let i = 0; i < WARM_SESSIONS; i += PARK_BATCH) {
      const parked = await stackLib.postJson(`${playwright.base}/parked`, { url, count: Math.min(PARK_BATCH, WARM_SESSIONS - i) });
      if (parked.status !== 200) problems.push(`playwright parked: ${parked.status} ${parked.text.slice(0, 200)}`);
    }
    await stackLib.waitRendererIdle(renderer);
    await sleep(SETTLE_MS);
    const memAfter = { renderer: treeMemory(renderer.child), playwright: treeMemory(playwright.child) };
    const health = await (await fetch(`${renderer.base}/healthz`)).json();
    if (health.contexts < WARM_SESSIONS + CONCURRENCY) problems.push(`the renderer holds ${health.contexts} contexts, fewer than the run's ${WARM_SESSIONS + CONCURRENCY} warm sessions`);

    if (warmupProblems.length) warnings.push(`${warmupProblems.length} bad answers in the warm-up, e.g. ${warmupProblems[0]}`);
    if (problems.length) warnings.push(`${problems.length} bad answers, e.g. ${problems[0]}`);
    if (!renderer.pinned || !playwright.pinned) warnings.push('the renderer or the baseline could not be pinned');

    const pooled = (kind, side) => runs[kind][side].flatMap((r) => r.latencies);
    const p50 = (kind, side) => quantile(pooled(kind, side), 0.5);
    const cpuPerRender = (kind, side) => runs[kind][side].reduce((s, r) => s + r.chromium_cpu_ms, 0) / runs[kind][side].reduce((s, r) => s + r.ok, 0);
    const rate = (side) => runs.concurrent[side].reduce((s, r) => s + r.ok, 0) / runs.concurrent[side].reduce((s, r) => s + r.seconds, 0);
    const perSession = (side) => (memAfter[side].pss_kb - memBefore[side].pss_kb) / WARM_SESSIONS / 1024;
    const processesPerSession = (side) => (memAfter[side].processes - memBefore[side].processes) / WARM_SESSIONS;
    const ms = (v) => `${round(v, 1)} ms`;

    const figures = [
      figure('warm_p50_ratio', 'warm session render p50 / Playwright reused page p50', round(p50('warm', 'renderer') / p50('warm', 'playwright'), 3), 'x',
        { op: '<=', value: TARGET.latency }, `renderer ${ms(p50('warm', 'renderer'))}, Playwright ${ms(p50('warm', 'playwright'))}`),
      figure('warm_chromium_cpu_ratio', 'warm render Chromium CPU / Playwright reused page', round(cpuPerRender('warm', 'renderer') / cpuPerRender('warm', 'playwright'), 3), 'x',
        { op: '<=', value: TARGET.cpu }, `renderer ${ms(cpuPerRender('warm', 'renderer'))}, Playwright ${ms(cpuPerRender('warm', 'playwright'))} of Chromium CPU per render`),
      figure('sessionless_p50_ratio', 'sessionless render p50 / Playwright new context p50', round(p50('sessionless', 'renderer') / p50('sessionless', 'playwright'), 3), 'x',
        { op: '<=', value: TARGET.latency }, `renderer ${ms(p50('sessionless', 'renderer'))}, Playwright ${ms(p50('sessionless', 'playwright'))}`),
      figure('concurrent_throughput_ratio', `throughput at concurrency ${CONCURRENCY}, renderer / Playwright`, round(rate('renderer') / rate('playwright'), 3), 'x',
        { op: '>=', value: TARGET.throughput }, `renderer ${round(rate('renderer'), 1)} req/s, Playwright ${round(rate('playwright'), 1)} req/s`),
      figure('warm_session_pss_mb', `memory per warm session (renderer + Chromium PSS, ${WARM_SESSIONS} sessions)`, round(perSession('renderer'), 1), 'MB',
        { op: '<=', value: TARGET.memoryMb },
        `Playwright context parked on about:blank: ${round(perSession('playwright'), 1)} MB; processes per session: renderer ${round(processesPerSession('renderer'), 2)}, Playwright ${round(processesPerSession('playwright'), 2)}`),
    ];
    const summary = (r) => ({ n: r.ok, seconds: round(r.seconds, 2), req_per_s: round(r.req_per_s, 1), p50_ms: round(quantile(r.latencies, 0.5), 1), chromium_cpu_ms: round(r.chromium_cpu_ms, 0) });
    return {
      figures,
      warnings,
      details: {
        page: url,
        rounds: ROUNDS,
        renders_per_run: RUN,
        concurrency: CONCURRENCY,
        order: 'per kind, rounds alternated: renderer then Playwright, then the reverse, …',
        runs: Object.fromEntries(Object.entries(runs).map(([kind, sides]) => [kind, Object.fromEntries(Object.entries(sides).map(([side, rs]) => [side, rs.map(summary)]))])),
        memory: { sessions: WARM_SESSIONS, before: memBefore, after: memAfter, renderer_contexts_after: health.contexts },
        pinning: { renderer: proc.cpusAllowed(renderer.child.pid), playwright: proc.cpusAllowed(playwright.child.pid) },
      },
    };
  } finally {
    // The baseline's Chromium descends from it as the renderer's does from the renderer.
    const baselineChromium = started[2] ? proc.descendants(started[2].pid) : [];
    await stackLib.stopAll(started, renderer ?? null);
    for (const pid of baselineChromium) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}

module.exports = {
  id: 'p9-playwright',
  title: 'P9  renderer vs Playwright-direct: warm, sessionless, concurrency 4, memory per warm session',
  run,
};
