'use strict';
/**
 * P11: what the API's own code costs a render, apart from what idling between renders costs on
 * this machine. P2 measures the API in front of Chromium, where a render takes ~100 ms and the
 * API sits idle in between. On these VMs a process that wakes after 10 ms or more of idling
 * runs the same code several times slower than one kept busy (a bare node:http server: 35 us
 * of CPU per request back to back, ~400 us with 100 ms between requests; a C loop over 1 MiB:
 * 9 us, then 50 us after a 10 ms sleep), so P2's API CPU per render is mostly that wake-up
 * cost, which its bare forwarder pays too.
 *
 * Here a stand-in renderer (servers/stand-in-renderer.js: the renderer RPC without a browser)
 * answers P2's warm render of the tiny page, either at once ("back to back") or after HOLD_MS
 * ("held", about one warm render in Chromium). Three sides, as in P2: the stand-in direct, the
 * bare forwarder in front of it, the API in front of it (`npm start`'s node flags, memory
 * backend, one session). Renders one at a time, ABBA rounds; per run the side's CPU per render
 * (its threads' schedstat) and its p50 latency.
 *
 * Judged, back to back (issue 10's targets for the API's own work): API CPU per render <= 1 ms
 * and the latency it adds over the stand-in direct <= 2 ms. Held, the same figures and the
 * forwarder's held / back-to-back CPU (what waking up costs any process here) are printed
 * beside them; P2 judges the end-to-end figures with Chromium.
 *
 * Pinning: the loader (this process) on CPU 0; stand-in, forwarder and API on CPU 1.
 */
const path = require('node:path');
const { Pool } = require('undici');
const { figure } = require('./lib/report');
const { round, median } = require('./lib/load');
const proc = require('./lib/proc');
const stackLib = require('./lib/render-stack');

const STAND_IN = path.join(__dirname, 'servers', 'stand-in-renderer.js');
/** How long a held render waits: about a warm render of P2's page in Chromium here. */
const HOLD_MS = 100;
const ROUNDS = 6;
const BACK_TO_BACK_PER_RUN = 400;
const HELD_PER_RUN = 25;
const WARMUP_RENDERS = 400;
/** Issue 10's. */
const TARGET_API_CPU_MS = 1;
const TARGET_ADDED_P50_MS = 2;

const SIDES = ['direct', 'forwarder', 'api'];

async function startStandIn(tmpDir) {
  const port = await proc.freePort();
  const child = proc.spawnNode({
    args: [STAND_IN],
    logFile: path.join(tmpDir, 'p11-stand-in.log'),
    env: { PORT: String(port), TOKEN: stackLib.RENDERER_TOKEN },
  });
  await proc.waitForPort(port, { child });
  return { child, base: `http://${proc.LOOPBACK}:${port}` };
}

/** One keep-alive connection per side; `render(hold)` sends one render and checks its answer. */
function sideOf(name, base, routePath, pid, headers, body) {
  const pool = new Pool(base, { connections: 1 });
  return {
    name,
    pid,
    pool,
    async render(hold) {
      const url = `http://${stackLib.SITE_HOST}:9/static?hold_ms=${hold}`;
      const t0 = performance.now();
      const res = await pool.request({ method: 'POST', path: routePath, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body(url)) });
      const text = await res.body.text();
      const ms = performance.now() - t0;
      if (res.statusCode !== 200 || !text.includes('<h1>static</h1>')) throw new Error(`${name}: ${res.statusCode} ${text.slice(0, 300)}`);
      return ms;
    },
  };
}

/** `rounds` ABBA rounds of `perRun` renders per side at `hold`: per side, CPU ms per render and p50 ms per run. */
async function alternate(sides, hold, perRun, log) {
  const runs = Object.fromEntries(SIDES.map((s) => [s, { cpuMs: [], p50Ms: [] }]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of r % 2 ? [...SIDES].reverse() : SIDES) {
      const side = sides[name];
      const latencies = [];
      const cpu0 = proc.processCpuMs(side.pid);
      for (let i = 0; i < perRun; i++) latencies.push(await side.render(hold));
      runs[name].cpuMs.push((proc.processCpuMs(side.pid) - cpu0) / perRun);
      runs[name].p50Ms.push(median(latencies));
    }
    log(`    hold ${hold} ms, round ${r + 1}: ` + SIDES.map((s) => `${s} ${round(runs[s].cpuMs.at(-1), 3)} ms CPU, p50 ${round(runs[s].p50Ms.at(-1), 3)} ms`).join('; '));
  }
  const m = (side, key) => round(median(runs[side][key]), 3);
  // Added latency: the median over the rounds of each round's paired difference (its runs ran back to back).
  const added = (side) => round(median(runs[side].p50Ms.map((p, i) => p - runs.direct.p50Ms[i])), 3);
  return {
    cpu: { direct: m('direct', 'cpuMs'), forwarder: m('forwarder', 'cpuMs'), api: m('api', 'cpuMs') },
    p50: { direct: m('direct', 'p50Ms'), forwarder: m('forwarder', 'p50Ms'), api: m('api', 'p50Ms') },
    added: { forwarder: added('forwarder'), api: added('api') },
    runs,
  };
}

async function run({ log, tmpDir }) {
  log(`  stand-in renderer, bare forwarder and API on CPU 1; renders one at a time, back to back and held ${HOLD_MS} ms; ${ROUNDS} ABBA rounds`);
  const started = [];
  const pools = [];
  try {
    const standIn = await startStandIn(tmpDir);
    started.push(standIn.child);
    const api = await stackLib.startApi(tmpDir, standIn.base, 'p11-api');
    started.push(api.child);
    const forwarder = await stackLib.startForwarder(tmpDir, standIn.base, 'p11-forwarder');
    started.push(forwarder.child);
    const contextKey = stackLib.benchContextKey('p11');
    const sides = {
      direct: sideOf('direct', standIn.base, '/render', standIn.child.pid, stackLib.RENDERER_AUTH, (url) => ({ url, context_key: contextKey })),
      forwarder: sideOf('forwarder', forwarder.base, '/render', forwarder.child.pid, {}, (url) => ({ url, context_key: contextKey })),
      api: sideOf('api', api.base, '/v1/render', api.child.pid, {}, (url) => ({ url, session_id: 'p11' })),
    };
    pools.push(...Object.values(sides).map((s) => s.pool));
    for (const name of SIDES) for (let i = 0; i < WARMUP_RENDERS; i++) await sides[name].render(0);

    const busy = await alternate(sides, 0, BACK_TO_BACK_PER_RUN, log);
    const held = await alternate(sides, HOLD_MS, HELD_PER_RUN, log);
    const wakeFactor = round(held.cpu.forwarder / busy.cpu.forwarder, 2);
    const figures = [
      figure('api_cpu_ms_per_render', 'back to back: API CPU per render', busy.cpu.api, 'ms', { op: '<=', value: TARGET_API_CPU_MS }, `bare forwarder ${busy.cpu.forwarder} ms, stand-in ${busy.cpu.direct} ms; medians of ${ROUNDS} runs of ${BACK_TO_BACK_PER_RUN}`),
      figure('api_over_forwarder_cpu_ms', 'back to back: API CPU over the bare forwarder', round(busy.cpu.api - busy.cpu.forwarder, 3), 'ms'),
      figure('added_p50_ms', 'back to back: added p50 latency (API - direct)', busy.added.api, 'ms', { op: '<=', value: TARGET_ADDED_P50_MS }, `direct p50 ${busy.p50.direct} ms; bare forwarder adds ${busy.added.forwarder} ms`),
      figure('held_api_cpu_ms_per_render', `held ${HOLD_MS} ms: API CPU per render`, held.cpu.api, 'ms', null, `bare forwarder ${held.cpu.forwarder} ms, stand-in ${held.cpu.direct} ms; medians of ${ROUNDS} runs of ${HELD_PER_RUN}`),
      figure('held_api_over_forwarder_cpu_ms', `held ${HOLD_MS} ms: API CPU over the bare forwarder`, round(held.cpu.api - held.cpu.forwarder, 3), 'ms'),
      figure('held_added_p50_ms', `held ${HOLD_MS} ms: added p50 latency (API - direct)`, held.added.api, 'ms', null, `bare forwarder adds ${held.added.forwarder} ms`),
      figure('wake_factor', 'bare forwarder CPU per render, held / back to back', wakeFactor, 'x', null, `what idling ${HOLD_MS} ms between requests costs a process on this machine`),
    ];
    const details = { hold_ms: HOLD_MS, rounds: ROUNDS, renders_per_run: { back_to_back: BACK_TO_BACK_PER_RUN, held: HELD_PER_RUN }, back_to_back: busy, held };
    return { figures, details };
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    for (const child of started.reverse()) await proc.stop(child, 10000);
  }
}

module.exports = {
  id: 'p11-idle-cost',
  title: "P11 the API's own CPU and latency per render, back to back and held 100 ms, against a stand-in renderer",
  run,
};
