'use strict';
/**
 * P10: what a session's saved browser state costs a warm render through the API. Two sessions
 * on one stack (site, renderer, API as in P2/P6): one whose page filled localStorage with
 * STATE_KIB KiB in STATE_KEYS keys on its first render (kept: the first render answers
 * `state_saved: true`), one without any state. Warm renders of each, one at a time, in ABBA
 * runs; the API's CPU per render (its threads' schedstat) is judged on the median of each
 * side's runs.
 *
 * A warm context has no use for the saved state (it is restored only into a context being
 * created), so a render of the big-state session should cost the API what one without state
 * does. Before the API left the state out of warm renders (state_omitted, README "The
 * renderer"), it built and sent the whole state on every render: this benchmark measured 1.93
 * then (5.38 ms of API CPU per render against 2.79 without state), 1.11 after.
 *
 * Pinning as P2: loader and site on CPU 0, API and renderer on CPU 1, Chromium unpinned.
 */
const { figure } = require('./lib/report');
const { round } = require('./lib/load');
const stackLib = require('./lib/render-stack');
const { processCpuMs } = require('./lib/proc');

/** The saved state: about 200 KiB of localStorage (SESSION_MAX_STORAGE_STATE_BYTES is 256 KiB by default). */
const STATE_KIB = 200;
const STATE_KEYS = 1000;
/** Runs per side, ABBA: one run in eight carried a stray 6-7 ms per render (a GC, a compile) on this VM. */
const ROUNDS = 6;
const RENDERS_PER_RUN = 25;
const WARMUP_RENDERS = 10;
/** API CPU per warm render, big state / none. */
const TARGET_RATIO = 1.2;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

async function run({ log, tmpDir }) {
  log(`  starting static site (127.0.0.2), renderer and API; a session with ${STATE_KIB} KiB of localStorage in ${STATE_KEYS} keys and one without state, ${ROUNDS} x ${RENDERS_PER_RUN} warm renders each, one at a time, ABBA`);
  const stack = await stackLib.startStack(tmpDir, 'p10');
  try {
    const sides = {
      state: { session: 'p10-state', url: stack.site.url(`/stored?kb=${STATE_KIB}&items=${STATE_KEYS}`), api: [], renderer: [] },
      none: { session: 'p10-none', url: stack.site.url('/static'), api: [], renderer: [] },
    };
    const render = async (side) => {
      const r = await stackLib.postJson(`${stack.api.base}/v1/render`, { url: side.url, session_id: side.session });
      if (r.status !== 200 || r.json?.state_saved !== true) throw new Error(`render of ${side.session}: ${r.status} ${r.text.slice(0, 300)}`);
    };
    for (const side of Object.values(sides)) for (let i = 0; i < WARMUP_RENDERS; i++) await render(side);

    for (let round_ = 0; round_ < ROUNDS; round_++) {
      const order = round_ % 2 ? ['none', 'state'] : ['state', 'none'];
      for (const name of order) {
        const side = sides[name];
        const api0 = processCpuMs(stack.api.child.pid);
        const renderer0 = processCpuMs(stack.renderer.child.pid);
        for (let i = 0; i < RENDERS_PER_RUN; i++) await render(side);
        side.api.push((processCpuMs(stack.api.child.pid) - api0) / RENDERS_PER_RUN);
        side.renderer.push((processCpuMs(stack.renderer.child.pid) - renderer0) / RENDERS_PER_RUN);
        log(`    round ${round_ + 1} ${name.padEnd(5)}: CPU ms/render api ${round(side.api.at(-1), 2)} renderer ${round(side.renderer.at(-1), 2)}`);
      }
    }

    const api = { state: median(sides.state.api), none: median(sides.none.api) };
    const renderer = { state: median(sides.state.renderer), none: median(sides.none.renderer) };
    const figures = [
      figure('api_cpu_ratio_state_over_none', 'API CPU per warm render, saved state / none', round(api.state / api.none, 3), '', { op: '<=', value: TARGET_RATIO }, `${STATE_KIB} KiB of localStorage; medians of ${ROUNDS} runs per side`),
      figure('api_cpu_ms_state', `API CPU per warm render, ${STATE_KIB} KiB state`, round(api.state, 2), 'ms'),
      figure('api_cpu_ms_none', 'API CPU per warm render, no state (baseline)', round(api.none, 2), 'ms'),
      figure('renderer_cpu_ms_state', `renderer CPU per warm render, ${STATE_KIB} KiB state`, round(renderer.state, 2), 'ms'),
      figure('renderer_cpu_ms_none', 'renderer CPU per warm render, no state', round(renderer.none, 2), 'ms'),
    ];
    return {
      figures,
      details: {
        state: { kib: STATE_KIB, keys: STATE_KEYS },
        rounds: ROUNDS,
        renders_per_run: RENDERS_PER_RUN,
        runs_ms: Object.fromEntries(Object.entries(sides).map(([k, s]) => [k, { api: s.api.map((x) => round(x, 3)), renderer: s.renderer.map((x) => round(x, 3)) }])),
      },
    };
  } finally {
    await stack.stopAll();
  }
}

module.exports = {
  id: 'p10-saved-state',
  title: "P10 a session's saved state: API CPU per warm render with 200 KiB of localStorage vs none",
  run,
};
