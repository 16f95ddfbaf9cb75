'use strict';
/**
 * Diagnostic (not part of `npm run bench`): which Chromium processes each side of P9 starts
 * while it renders. Same stack as P9 (static site on 127.0.0.2, a standalone renderer, the
 * Playwright-direct baseline), unpinned. Per side and phase (warm-up of 4 sessions, 15
 * sequential warm renders of one session, 40 warm renders over 4 sessions at once) it polls the
 * side's Chromium process tree every few ms and lists the processes born and gone during the
 * phase by type (`--type=`, utility sub-type), with the Chromium CPU the phase used.
 *
 *   npm run build && node bench/analysis/p9-churn.js
 *   P9_CHURN_ENV='{"HEADLESS_...":"..."}' node bench/analysis/p9-churn.js   # renderer env overrides
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const proc = require('../lib/proc');
const stackLib = require('../lib/render-stack');

const POLL_MS = 5;
const CONCURRENCY = 4;

/** ppid, comm and the first bytes of the command line of a process (for P9_CHURN_DETAIL). */
function detailOf(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    let exe = '?';
    try {
      exe = fs.readlinkSync(`/proc/${pid}/exe`);
    } catch {
      /* not ours to read, or gone */
    }
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').slice(0, 160);
    return `ppid=${ppid} comm=${comm} exe=${exe} cmd=${cmd}`;
  } catch {
    return null;
  }
}

function typeOf(pid) {
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmdline === '') return 'gone'; // a zombie, not yet reaped
    const args = cmdline.split(/[\0 ]/);
    const type = args.find((a) => a.startsWith('--type='))?.slice(7) ?? 'browser';
    const sub = args.find((a) => a.startsWith('--utility-sub-type='))?.slice(19);
    const extra = args.includes('--extension-process') ? ':extension' : '';
    return (sub ? `${type}:${sub.split('.').slice(-1)[0]}` : type) + extra;
  } catch {
    return 'gone';
  }
}

/** Polls a process tree; `stop()` returns the processes born and gone meanwhile, by type. */
function watchTree(rootPid) {
  const types = new Map();
  const initial = new Set(proc.descendants(rootPid));
  for (const pid of initial) types.set(pid, typeOf(pid));
  const seen = new Set(initial);
  let last = new Set(initial);
  const gone = new Set();
  const details = new Map();
  const timer = setInterval(() => {
    const now = new Set(proc.descendants(rootPid));
    for (const pid of now) {
      seen.add(pid);
      // A process forked a moment ago still shows its parent's command line: the last reading wins.
      const type = typeOf(pid);
      if (type !== 'gone') types.set(pid, type);
      if (process.env.P9_CHURN_DETAIL && !initial.has(pid)) {
        const detail = detailOf(pid);
        if (detail) details.set(pid, [...new Set([...(details.get(pid) ?? []), detail])]);
      }
    }
    for (const pid of last) if (!now.has(pid)) gone.add(pid);
    last = now;
  }, POLL_MS);
  return {
    stop() {
      clearInterval(timer);
      const count = (pids) => {
        const out = {};
        for (const pid of pids) out[types.get(pid)] = (out[types.get(pid)] ?? 0) + 1;
        return out;
      };
      const born = [...seen].filter((pid) => !initial.has(pid));
      if (process.env.P9_CHURN_DETAIL) for (const pid of born.slice(0, Number(process.env.P9_CHURN_DETAIL))) console.log(pid, details.get(pid));
      return { before: initial.size, after: last.size, born: count(born), gone: count(gone) };
    },
  };
}

const cpuMs = (pid) => proc.descendants(pid).reduce((s, p) => s + (proc.cpuTimeWithChildrenMs(p) ?? 0), 0);

async function main() {
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'p9-churn-'));
  const started = [];
  let renderer;
  try {
    const site = await stackLib.startSite(tmpDir);
    started.push(site.child);
    renderer = await stackLib.startRenderer(tmpDir, 'renderer', { HEADLESS_MAX_CONTEXTS: '50', HEADLESS_CONTEXT_IDLE_SECONDS: '86400', ...JSON.parse(process.env.P9_CHURN_ENV || '{}') });
    started.push(renderer.child);
    const port = await proc.freePort();
    const pw = proc.spawnNode({
      args: [path.join(__dirname, '..', 'servers', 'playwright-direct.js')],
      cpu: null,
      logFile: path.join(tmpDir, 'pw.log'),
      env: { PORT: String(port), CHROMIUM_PATH: stackLib.CHROMIUM },
    });
    started.push(pw);
    await proc.waitForPort(port, { child: pw, timeoutMs: 30000 });
    const pwBase = `http://${proc.LOOPBACK}:${port}`;
    await fetch(`${pwBase}/ready`);
    const url = site.url('/static');

    const sides = {
      renderer: { pid: renderer.child.pid, render: (slot) => stackLib.postJson(`${renderer.base}/render`, { url, context_key: stackLib.benchContextKey(`churn-${slot}`) }, stackLib.RENDERER_AUTH) },
      playwright: { pid: pw.pid, render: (slot) => stackLib.postJson(`${pwBase}/reused/${slot}`, { url }) },
    };
    const phase = async (side, name, count, workers) => {
      await new Promise((r) => setTimeout(r, 500));
      const watch = watchTree(sides[side].pid);
      const cpu0 = cpuMs(sides[side].pid);
      let next = 0;
      let bad = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: workers }, async (_, w) => {
          while (next < count) {
            const i = next++;
            const r = await sides[side].render(workers === 1 && name !== 'warm-up' ? 0 : name === 'warm-up' ? i % CONCURRENCY : w);
            if (r.status !== 200) bad++;
          }
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      await new Promise((r) => setTimeout(r, 300));
      const result = watch.stop();
      console.log(
        `${side.padEnd(10)} ${name.padEnd(12)} n=${count} ${(count / seconds).toFixed(1)} req/s, Chromium CPU ${((cpuMs(sides[side].pid) - cpu0) / count).toFixed(0)} ms/render, bad=${bad}; procs ${result.before} -> ${result.after}; born ${JSON.stringify(result.born)} gone ${JSON.stringify(result.gone)}`,
      );
    };
    for (const side of ['renderer', 'playwright']) {
      await phase(side, 'warm-up', CONCURRENCY * 3, 1);
      await phase(side, 'sequential', 15, 1);
      await phase(side, 'concurrent', 40, CONCURRENCY);
      await phase(side, 'concurrent', 40, CONCURRENCY);
    }
  } finally {
    await stackLib.stopAll(started, renderer ?? null);
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
