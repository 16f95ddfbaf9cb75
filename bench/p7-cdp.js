'use strict';
/**
 * P7: CDP sessions. (1) Connect-to-first-page latency: `chromium.connectOverCDP` to
 * `GET /v1/sessions/:id/cdp` through the API (a new session each time: the renderer launches
 * its own Chromium for it) until the default context's page is in hand, against Playwright
 * launching a local browser (`chromium.launch()` + `newPage()`) in the same run, alternated.
 * (2) Memory per connected session: PSS (proportional set size, so shared pages are not
 * counted once per process) of all the renderer's descendant processes, before and while
 * SESSIONS sessions are connected at once (each having loaded the static page), divided by
 * SESSIONS; the renderer's own RSS delta for information.
 *
 * Same stack as P2/P6 (lib/render-stack.js). No target: the figures are for sizing
 * (CDP_MAX_CONNECTIONS) and for comparison with a local launch.
 */
const { chromium } = require('playwright-core');
const { figure } = require('./lib/report');
const { round } = require('./lib/load');
const proc = require('./lib/proc');
const stackLib = require('./lib/render-stack');

const ROUNDS = 10;
const SESSIONS = 4;

const quantile = (xs, q) => {
  const s = Float64Array.from(xs).sort();
  const i = (s.length - 1) * q;
  return s[Math.floor(i)] + (s[Math.ceil(i)] - s[Math.floor(i)]) * (i - Math.floor(i));
};

const treePssKb = (rootPid) => proc.descendants(rootPid).reduce((sum, pid) => sum + proc.pssKb(pid), 0);

async function run({ log, tmpDir }) {
  log(`  ${ROUNDS} rounds: connectOverCDP through the API (new session) vs chromium.launch() + newPage(), alternated; then ${SESSIONS} sessions held for memory`);
  const stack = await stackLib.startStack(tmpDir, 'p7');
  const wsBase = stack.api.base.replace(/^http/, 'ws');
  const url = stack.site.url('/static');
  const warnings = [];
  try {
    let n = 0;
    const viaCdp = async () => {
      const started = performance.now();
      const browser = await chromium.connectOverCDP(`${wsBase}/v1/sessions/p7-${++n}/cdp`);
      const context = browser.contexts()[0];
      const page = context.pages()[0] ?? (await context.newPage());
      const ready = performance.now() - started;
      await page.goto(url);
      const loaded = performance.now() - started;
      await browser.close();
      return { ready, loaded };
    };
    const local = async () => {
      const started = performance.now();
      const browser = await chromium.launch({ executablePath: stackLib.CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
      const page = await browser.newPage();
      const ready = performance.now() - started;
      await page.goto(url);
      const loaded = performance.now() - started;
      await browser.close();
      return { ready, loaded };
    };
    await viaCdp();
    await local();
    const samples = { cdp: [], local: [] };
    for (let i = 0; i < ROUNDS; i++) {
      for (const kind of i % 2 === 0 ? ['cdp', 'local'] : ['local', 'cdp']) {
        samples[kind].push(kind === 'cdp' ? await viaCdp() : await local());
        await stackLib.waitRendererIdle(stack.renderer);
      }
    }

    // Memory: SESSIONS connected at once, each on the page.
    await new Promise((r) => setTimeout(r, 1000));
    const rendererPid = stack.renderer.child.pid;
    const before = { pss: treePssKb(rendererPid), rendererRss: proc.rssKb(rendererPid), processes: proc.descendants(rendererPid).length };
    const held = [];
    for (let i = 0; i < SESSIONS; i++) {
      const browser = await chromium.connectOverCDP(`${wsBase}/v1/sessions/p7-mem-${i}/cdp`);
      await browser.contexts()[0].pages()[0].goto(url);
      held.push(browser);
    }
    await new Promise((r) => setTimeout(r, 1000));
    const during = { pss: treePssKb(rendererPid), rendererRss: proc.rssKb(rendererPid), processes: proc.descendants(rendererPid).length };
    for (const browser of held) await browser.close();
    const perSessionMb = round((during.pss - before.pss) / SESSIONS / 1024, 1);
    const processesPerSession = round((during.processes - before.processes) / SESSIONS, 1);

    const p50 = (kind, field) => round(quantile(samples[kind].map((s) => s[field]), 0.5), 1);
    const figures = [
      figure('cdp_ready_p50_ms', 'CDP through the API: connect to first page, p50', p50('cdp', 'ready'), 'ms'),
      figure('local_ready_p50_ms', 'local chromium.launch() + newPage(), p50', p50('local', 'ready'), 'ms'),
      figure('cdp_loaded_p50_ms', 'CDP: connect + first page loaded, p50', p50('cdp', 'loaded'), 'ms'),
      figure('local_loaded_p50_ms', 'local: launch + first page loaded, p50', p50('local', 'loaded'), 'ms'),
      figure('pss_per_session_mb', `memory per connected session (PSS, ${SESSIONS} at once)`, perSessionMb, 'MB', null, `${processesPerSession} processes per session`),
    ];
    return {
      figures,
      warnings,
      details: {
        rounds: ROUNDS,
        page: url,
        order: 'alternated (C L, L C, …), one at a time; each CDP connection is a new session (a new Chromium on the renderer), closed with browser.close()',
        samples_ms: {
          cdp: samples.cdp.map((s) => ({ ready: round(s.ready, 1), loaded: round(s.loaded, 1) })),
          local: samples.local.map((s) => ({ ready: round(s.ready, 1), loaded: round(s.loaded, 1) })),
        },
        memory: { sessions: SESSIONS, before_kb: before, during_kb: during, renderer_node_rss_delta_kb: during.rendererRss - before.rendererRss },
      },
    };
  } finally {
    await stack.stopAll();
  }
}

module.exports = {
  id: 'p7-cdp',
  title: 'P7  CDP: connect-to-first-page vs a local launch, memory per connected session',
  run,
};
