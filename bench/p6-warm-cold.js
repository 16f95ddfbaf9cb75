'use strict';
/**
 * P6: a warm-session render against a cold one, of the same page, through the API
 * (`POST /v1/render` on `node dist/main.js` with HEADLESS_URLS -> a standalone renderer), as a
 * user sees it. Warm: repeated renders in one session, whose browser context and tab the
 * renderer keeps. Cold: each render in a brand-new session id (a new session in the API, a
 * new browser context and page in Chromium; nothing to restore). One request at a time,
 * warm and cold alternated (W C, C W, …); after each cold render its session is deleted
 * (untimed; this also closes its context) so that contexts do not pile up in Chromium.
 *
 * Pinning as P2 (lib/render-stack.js): loader and site on CPU 0, API and renderer on CPU 1,
 * Chromium not pinned. Target: warm p50 <= 0.5 x cold p50 (client-side latency).
 */
const { figure } = require('./lib/report');
const { round } = require('./lib/load');
const stackLib = require('./lib/render-stack');

const PAIRS = 30;
const WARMUP = { warm: 5, cold: 3 };
const TARGET_RATIO = 0.5;
/** Pause after deleting a cold session, so that closing its context does not overlap the next render. */
const SETTLE_MS = 100;

const quantile = (xs, q) => {
  const s = Float64Array.from(xs).sort();
  if (s.length === 0) return NaN;
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return s[lo] + (s[hi] - s[lo]) * (i - lo);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function run({ log, tmpDir }) {
  log(`  starting static site (127.0.0.2), renderer and API; ${PAIRS} warm and ${PAIRS} cold renders through the API, one at a time, alternated`);
  const stack = await stackLib.startStack(tmpDir, 'p6');
  try {
    const url = stack.site.url('/static');
    const endpoint = `${stack.api.base}/v1/render`;
    const warmId = 'p6-warm';
    let coldCount = 0;
    const problems = [];

    const render = async (kind) => {
      const sessionId = kind === 'warm' ? warmId : `p6-cold-${++coldCount}`;
      const r = await stackLib.postJson(endpoint, { url, session_id: sessionId });
      const ok = r.status === 200 && typeof r.json?.html === 'string' && r.json.html.includes('<h1>static</h1>');
      if (!ok) problems.push(`${kind} ${sessionId}: ${r.status} ${r.text.slice(0, 300)}`);
      const count = r.json?.session?.state?.request_count;
      if (ok && kind === 'cold' && count !== 1) problems.push(`cold session ${sessionId} had request_count ${count}: not new`);
      if (kind === 'cold') {
        const del = await fetch(`${stack.api.base}/v1/sessions/${sessionId}`, { method: 'DELETE' });
        await del.arrayBuffer();
        await stackLib.waitRendererIdle(stack.renderer);
        await sleep(SETTLE_MS);
      }
      return ok ? { ms: r.ms, renderMs: r.json.render_time_ms } : null;
    };

    for (let i = 0; i < WARMUP.warm; i++) await render('warm');
    for (let i = 0; i < WARMUP.cold; i++) await render('cold');
    const warmupProblems = problems.splice(0);

    const samples = { warm: [], cold: [] };
    for (let i = 0; i < PAIRS; i++) {
      for (const kind of i % 2 === 0 ? ['warm', 'cold'] : ['cold', 'warm']) {
        const s = await render(kind);
        if (s) samples[kind].push(s);
      }
    }
    const health = await (await fetch(`${stack.renderer.base}/healthz`)).json();
    const session = await (await fetch(`${stack.api.base}/v1/sessions/${warmId}`)).json();
    const pinning = stackLib.affinities(stack);

    const stats = (xs) => ({
      n: xs.length,
      latency_ms: {
        p50: round(quantile(xs.map((s) => s.ms), 0.5), 2),
        p90: round(quantile(xs.map((s) => s.ms), 0.9), 2),
        min: round(Math.min(...xs.map((s) => s.ms)), 2),
        max: round(Math.max(...xs.map((s) => s.ms)), 2),
      },
      render_time_ms_p50: round(quantile(xs.map((s) => s.renderMs), 0.5), 1),
      outside_render_ms_p50: round(quantile(xs.map((s) => s.ms - s.renderMs), 0.5), 2),
    });
    const warm = stats(samples.warm);
    const cold = stats(samples.cold);
    const ratio = round(warm.latency_ms.p50 / cold.latency_ms.p50, 3);
    const renderRatio = round(warm.render_time_ms_p50 / cold.render_time_ms_p50, 3);

    const warnings = [];
    if (problems.length) warnings.push(`${problems.length} failed or unexpected renders; first: ${problems[0]}`);
    if (warmupProblems.length) warnings.push(`warm-up: ${warmupProblems.length} failed renders; first: ${warmupProblems[0]}`);
    if (health.contexts !== 1) warnings.push(`renderer holds ${health.contexts} contexts after the run (expected 1: the warm session's)`);

    const figures = [
      figure('warm_p50_ms', 'warm session: p50 latency', warm.latency_ms.p50, 'ms'),
      figure('cold_p50_ms', 'cold (new session): p50 latency', cold.latency_ms.p50, 'ms'),
      figure('ratio_warm_over_cold', 'ratio warm p50 / cold p50', ratio, '', { op: '<=', value: TARGET_RATIO }, `warm ${warm.latency_ms.p50} ms, cold ${cold.latency_ms.p50} ms`),
      figure('warm_p90_ms', 'warm: p90 latency', warm.latency_ms.p90, 'ms'),
      figure('cold_p90_ms', 'cold: p90 latency', cold.latency_ms.p90, 'ms'),
      figure('warm_render_time_ms_p50', "warm: renderer's render_time_ms p50", warm.render_time_ms_p50, 'ms'),
      figure('cold_render_time_ms_p50', "cold: renderer's render_time_ms p50", cold.render_time_ms_p50, 'ms', null, `ratio warm/cold ${renderRatio}; the rest of each latency is HTTP, the API and the renderer around the render`),
    ];
    return {
      figures,
      warnings,
      details: {
        path: 'through the API: POST /v1/render {url, session_id} -> renderer POST /render',
        page: url,
        pairs: PAIRS,
        warmup: WARMUP,
        order: 'alternated, one request at a time (W C, C W, …); each cold session deleted after its render (untimed), then the renderer idle + 100 ms',
        pinning: { ...pinning, note: 'loader and site on CPU 0; API and renderer Node threads on CPU 1; Chromium not pinned' },
        warm,
        cold,
        warm_session_after: { request_count: session?.state?.request_count, render_time_ms_p50: session?.state?.render_time_ms_p50 },
        renderer_health_after: health,
        samples_ms: { warm: samples.warm.map((s) => round(s.ms, 2)), cold: samples.cold.map((s) => round(s.ms, 2)) },
      },
    };
  } finally {
    await stack.stopAll();
  }
}

module.exports = {
  id: 'p6-warm-cold',
  title: 'P6  warm-session render vs cold (new session) through the API',
  run,
};
