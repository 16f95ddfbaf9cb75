'use strict';
/**
 * P10: what a session's saved browser state costs a warm render through the API, on each
 * session backend. One site and one renderer (as in P2/P6), an API on the memory backend and
 * one on Redis (its own redis-server on :7530, P10_REDIS_PORT, pinned to the loader core as in
 * P8). On each API two sessions: one whose page filled localStorage with STATE_KIB KiB in
 * STATE_KEYS keys on its first render (kept: the first render answers `state_saved: true`),
 * one without any state. Warm renders of each, one at a time, in ABBA runs; the API's CPU per
 * render (its threads' schedstat) is judged on the median of each side's runs.
 *
 * A warm context has no use for the saved state (it is restored only into a context being
 * created), so a render of the big-state session should cost the API what one without state
 * does. Before the API left the state out of warm renders (state_omitted, README "The
 * renderer"), it built and sent the whole state on every render, and a Redis reservation
 * returned it too: this benchmark measured 1.52 on the memory backend (3.81 ms of API CPU per
 * render against 2.51; 1.93 in another run) and 1.66 on Redis (8.32 ms against 5.02); after,
 * 1.03 and 1.01 (this VM, 2026-11-30).
 *
 * Pinning as P2: loader and site on CPU 0, API and renderer on CPU 1, Chromium unpinned.
 */
const { figure } = require('./lib/report');
const { round, median } = require('./lib/load');
const stackLib = require('./lib/render-stack');
const proc = require('./lib/proc');
const redis = require('./lib/redis-servers');

const REDIS_PORT = Number(process.env.P10_REDIS_PORT || 7530);
/** The saved state: about 200 KiB of localStorage (SESSION_MAX_STORAGE_STATE_BYTES is 256 KiB by default). */
const STATE_KIB = 200;
const STATE_KEYS = 1000;
/** Runs per side, ABBA: one run in eight carried a stray 6-7 ms per render (a GC, a compile) on this VM. */
const ROUNDS = 6;
const RENDERS_PER_RUN = 25;
const WARMUP_RENDERS = 10;
/** API CPU per warm render, big state / none. */
const TARGET_RATIO = 1.2;

/** ABBA runs of warm renders of the two sessions on one API; per side, CPU ms per render of the API and the renderer. */
async function measureBackend(backend, api, renderer, site, log) {
  const sides = {
    state: { session: `p10-${backend}-state`, url: site.url(`/stored?kb=${STATE_KIB}&items=${STATE_KEYS}`), api: [], renderer: [] },
    none: { session: `p10-${backend}-none`, url: site.url('/static'), api: [], renderer: [] },
  };
  const render = async (side) => {
    const r = await stackLib.postJson(`${api.base}/v1/render`, { url: side.url, session_id: side.session });
    if (r.status !== 200 || r.json?.state_saved !== true) throw new Error(`${backend}: render of ${side.session}: ${r.status} ${r.text.slice(0, 300)}`);
  };
  for (const side of Object.values(sides)) for (let i = 0; i < WARMUP_RENDERS; i++) await render(side);
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of r % 2 ? ['none', 'state'] : ['state', 'none']) {
      const side = sides[name];
      const api0 = proc.processCpuMs(api.child.pid);
      const renderer0 = proc.processCpuMs(renderer.child.pid);
      for (let i = 0; i < RENDERS_PER_RUN; i++) await render(side);
      side.api.push((proc.processCpuMs(api.child.pid) - api0) / RENDERS_PER_RUN);
      side.renderer.push((proc.processCpuMs(renderer.child.pid) - renderer0) / RENDERS_PER_RUN);
      log(`    ${backend} round ${r + 1} ${name.padEnd(5)}: CPU ms/render api ${round(side.api.at(-1), 2)} renderer ${round(side.renderer.at(-1), 2)}`);
    }
  }
  return sides;
}

function figuresOf(backend, sides) {
  const m = (side, of) => median(sides[side][of]);
  const tag = `[${backend}]`;
  return [
    figure(`${backend}_api_cpu_ratio_state_over_none`, `API CPU per warm render, saved state / none ${tag}`, round(m('state', 'api') / m('none', 'api'), 3), '', { op: '<=', value: TARGET_RATIO }, `${STATE_KIB} KiB of localStorage; medians of ${ROUNDS} runs per side`),
    figure(`${backend}_api_cpu_ms_state`, `API CPU per warm render, ${STATE_KIB} KiB state ${tag}`, round(m('state', 'api'), 2), 'ms'),
    figure(`${backend}_api_cpu_ms_none`, `API CPU per warm render, no state (baseline) ${tag}`, round(m('none', 'api'), 2), 'ms'),
    figure(`${backend}_renderer_cpu_ms_state`, `renderer CPU per warm render, ${STATE_KIB} KiB state ${tag}`, round(m('state', 'renderer'), 2), 'ms'),
    figure(`${backend}_renderer_cpu_ms_none`, `renderer CPU per warm render, no state ${tag}`, round(m('none', 'renderer'), 2), 'ms'),
  ];
}

async function run({ log, tmpDir }) {
  log(
    `  static site (127.0.0.2), one renderer, an API on the memory backend and one on Redis (:${REDIS_PORT}); on each, a session with ${STATE_KIB} KiB ` +
      `of localStorage in ${STATE_KEYS} keys and one without state, ${ROUNDS} x ${RENDERS_PER_RUN} warm renders each, one at a time, ABBA`,
  );
  const redisSet = redis.standalone(REDIS_PORT, { cpu: proc.canPin() ? proc.LOADER_CPU : null });
  const started = [];
  let renderer = null;
  try {
    await redisSet.start();
    const site = await stackLib.startSite(tmpDir);
    started.push(site.child);
    renderer = await stackLib.startRenderer(tmpDir, 'p10-renderer');
    started.push(renderer.child);
    const figures = [];
    const details = { state: { kib: STATE_KIB, keys: STATE_KEYS }, rounds: ROUNDS, renders_per_run: RENDERS_PER_RUN, runs_ms: {} };
    for (const [backend, env] of [['memory', {}], ['redis', redisSet.env()]]) {
      const api = await stackLib.startApi(tmpDir, renderer.base, `p10-api-${backend}`, env);
      started.push(api.child);
      const sides = await measureBackend(backend, api, renderer, site, log);
      figures.push(...figuresOf(backend, sides));
      details.runs_ms[backend] = Object.fromEntries(
        Object.entries(sides).map(([k, side]) => [k, { api: side.api.map((x) => round(x, 3)), renderer: side.renderer.map((x) => round(x, 3)) }]),
      );
    }
    return { figures, details };
  } finally {
    await stackLib.stopAll(started, renderer);
    await redisSet.stop();
  }
}

module.exports = {
  id: 'p10-saved-state',
  title: "P10 a session's saved state: API CPU per warm render with 200 KiB of localStorage vs none, memory and Redis backends",
  run,
};
