'use strict';
/**
 * The render path for P2 and P6, all on loopback:
 *
 *   loader (this process, CPU 0) ──> API `node dist/main.js` (CPU 1) ──> renderer
 *   `node dist/headless/main.js` (CPU 1) ──CDP──> Chromium (NOT pinned: both cores)
 *                                                   └──> static site on 127.0.0.2 (CPU 0)
 *
 * Chromium is started by the renderer and would inherit its CPU mask, so the renderer is
 * started unpinned, Chromium is launched (GET /healthz launches it), and only then are the
 * renderer's own threads pinned to the server core (`taskset -a -p`). If Chromium crashed and
 * were relaunched during a run, the new one would be pinned to the server core: the
 * affinities are recorded after each benchmark (`chromiumAffinity`).
 *
 * The static site is not part of what is measured and runs beside the loader on CPU 0.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const proc = require('./proc');

const ROOT = path.resolve(__dirname, '..', '..');
const API_MAIN = path.join(ROOT, 'dist', 'main.js');
const RENDERER_MAIN = path.join(ROOT, 'dist', 'headless', 'main.js');
const SITE = path.join(__dirname, '..', 'servers', 'static-site.js');
const FORWARDER = path.join(__dirname, '..', 'servers', 'bare-forwarder.js');
const SITE_HOST = '127.0.0.2';
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
/** The API -> renderer token (a standalone renderer refuses to start without one). */
const RENDERER_TOKEN = 'bench-renderer-token-0123456789';
/** What a client calling the renderer directly must send, as the API does. */
const RENDERER_AUTH = { authorization: `Bearer ${RENDERER_TOKEN}` };
/** A renderer context key (64 hex) for a bench session name. */
const benchContextKey = (name) => require('node:crypto').createHash('sha256').update(name).digest('hex');

async function startSite(tmpDir) {
  const port = await proc.freePort();
  const child = proc.spawnNode({
    args: [SITE],
    cpu: proc.LOADER_CPU,
    logFile: path.join(tmpDir, 'site.log'),
    env: { PORT: String(port), SITE_HOST },
  });
  await proc.waitForPort(port, { child, host: SITE_HOST });
  return { child, url: (p) => `http://${SITE_HOST}:${port}${p}` };
}

/** The standalone renderer, its Chromium launched, its own threads then pinned to CPU 1. */
async function startRenderer(tmpDir, name = 'renderer', env = {}) {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: the render benchmarks need Chromium`);
  const port = await proc.freePort();
  const child = proc.spawnNode({
    args: [RENDERER_MAIN],
    // Every core: this process is pinned to the loader core and a plain child would inherit that.
    cpu: proc.canPin() ? `0-${os.cpus().length - 1}` : null,
    logFile: path.join(tmpDir, `${name}.log`),
    env: {
      HEADLESS_PORT: String(port),
      HEADLESS_HOST: proc.LOOPBACK,
      CHROMIUM_PATH: CHROMIUM,
      LOG_LEVEL: 'warn',
      HEADLESS_URLS: undefined,
      HEADLESS_TOKEN: RENDERER_TOKEN,
      // The renderer's egress layer judges every connection too: the local site must be allowed there.
      RENDER_ALLOWED_HOSTS: SITE_HOST,
      ...env,
    },
  });
  await proc.waitForPort(port, { child, timeoutMs: 30000 });
  const base = `http://${proc.LOOPBACK}:${port}`;
  const health = await fetch(`${base}/healthz`);
  const body = await health.json();
  if (health.status !== 200) throw new Error(`renderer /healthz: ${health.status} ${JSON.stringify(body)}${proc.logTail(child)}`);
  const pinned = proc.pinProcess(child.pid, proc.SERVER_CPU);
  child.pinnedTo = pinned ? proc.SERVER_CPU : null;
  return { child, port, base, pinned };
}

async function startApi(tmpDir, rendererBase, name = 'api', env = {}) {
  const port = await proc.freePort();
  const child = proc.spawnNode({
    args: [API_MAIN],
    nodeFlags: proc.API_NODE_FLAGS,
    logFile: path.join(tmpDir, `${name}.log`),
    env: {
      PORT: String(port),
      HOST: proc.LOOPBACK,
      LOG_LEVEL: 'warn',
      API_KEYS: '',
      HEADLESS_URLS: rendererBase,
      HEADLESS_PORT: String(await proc.freePort()),
      HEADLESS_TOKEN: RENDERER_TOKEN,
      RENDER_ALLOWED_HOSTS: SITE_HOST,
      ...env,
    },
  });
  await proc.waitForPort(port, { child, timeoutMs: 30000 });
  return { child, port, base: `http://${proc.LOOPBACK}:${port}` };
}

/** servers/bare-forwarder.js in front of the renderer, on the server core with the API's node flags (P2's floor). */
async function startForwarder(tmpDir, rendererBase, name = 'forwarder') {
  const port = await proc.freePort();
  const child = proc.spawnNode({
    args: [FORWARDER],
    nodeFlags: proc.API_NODE_FLAGS,
    logFile: path.join(tmpDir, `${name}.log`),
    env: { PORT: String(port), UPSTREAM: rendererBase, TOKEN: RENDERER_TOKEN },
  });
  await proc.waitForPort(port, { child });
  return { child, port, base: `http://${proc.LOOPBACK}:${port}` };
}

/**
 * Starts site, renderer and API (and, with `forwarder`, a bare forwarder beside the API);
 * `stopAll` stops them (and checks Chromium went with the renderer).
 */
async function startStack(tmpDir, prefix, { forwarder = false } = {}) {
  const started = [];
  try {
    const site = await startSite(tmpDir);
    started.push(site.child);
    const renderer = await startRenderer(tmpDir, `${prefix}-renderer`);
    started.push(renderer.child);
    const api = await startApi(tmpDir, renderer.base, `${prefix}-api`);
    started.push(api.child);
    const fwd = forwarder ? await startForwarder(tmpDir, renderer.base, `${prefix}-forwarder`) : null;
    if (fwd) started.push(fwd.child);
    return { site, renderer, api, forwarder: fwd, started, stopAll: () => stopAll(started, renderer) };
  } catch (err) {
    await stopAll(started, null);
    throw err;
  }
}

/**
 * Stops in reverse order. The renderer closes Chromium on SIGTERM; any Chromium process of
 * ours still there a moment later is killed by its pid (it descends from our renderer).
 */
async function stopAll(children, renderer) {
  const chromium = renderer ? proc.descendants(renderer.child.pid) : [];
  for (const child of [...children].reverse()) await proc.stop(child, 10000);
  await new Promise((r) => setTimeout(r, 300));
  for (const pid of chromium) {
    try {
      process.kill(pid, 0);
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** The renderer's Chromium processes (its descendants). */
function chromiumPids(renderer) {
  return proc.descendants(renderer.child.pid);
}

/** CPU masks of the processes involved, for results.json. */
function affinities(stack) {
  const chromium = {};
  for (const pid of chromiumPids(stack.renderer)) {
    const mask = proc.cpusAllowed(pid);
    if (mask) chromium[mask] = (chromium[mask] ?? 0) + 1;
  }
  return {
    loader: proc.cpusAllowed(),
    api: proc.cpusAllowed(stack.api.child.pid),
    ...(stack.forwarder && { forwarder: proc.cpusAllowed(stack.forwarder.child.pid) }),
    renderer: proc.cpusAllowed(stack.renderer.child.pid),
    site: proc.cpusAllowed(stack.site.child.pid),
    /** mask -> number of Chromium processes with it */
    chromium,
  };
}

/** A Chromium process's role from its command line (`--type=renderer`, …; none: the browser). */
function chromiumType(pid) {
  try {
    // Chromium rewrites its process title, so the arguments may be joined by spaces.
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/);
    const type = args.find((a) => a.startsWith('--type='))?.slice(7) ?? 'browser';
    const sub = args.find((a) => a.startsWith('--utility-sub-type='))?.slice(19);
    return sub ? `${type}:${sub.split('.').slice(-1)[0]}` : type;
  } catch {
    return 'gone';
  }
}

/**
 * CPU time (ms) the machine has used so far, from /proc/stat: `tasks` (user, nice, system:
 * what processes' own times add up to), `irq` (irq + softirq: interrupts and kernel network
 * processing, loopback traffic included, which no process's time includes) and `steal` (the
 * hypervisor ran something else on our virtual CPU).
 */
function machineCpuMs() {
  try {
    const [, ...ticks] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
    const ms = (t) => (t * 1000) / proc.clockTicks();
    return { tasks: ms(ticks[0] + ticks[1] + ticks[2]), irq: ms(ticks[5] + ticks[6]), steal: ms(ticks[7] || 0) };
  } catch {
    return null;
  }
}

/**
 * CPU time used so far (ms) by the API, the forwarder (0 without), the renderer's Node process and all of Chromium (also
 * by Chromium process type). Chromium starts and ends renderer processes as it goes; one that
 * has exited is counted in the CPU of the process that reaped it (its zygote: cutime/cstime).
 * Also the Chromium pids alive now, to count the processes started between two snapshots.
 */
function cpuSnapshot(stack) {
  let chromium = 0;
  const chromiumByType = {};
  const pids = chromiumPids(stack.renderer);
  for (const pid of pids) {
    const ms = proc.cpuTimeWithChildrenMs(pid) ?? 0;
    chromium += ms;
    const type = chromiumType(pid);
    chromiumByType[type] = (chromiumByType[type] ?? 0) + ms;
  }
  return {
    api: proc.processCpuMs(stack.api.child.pid) ?? 0,
    forwarder: stack.forwarder ? (proc.processCpuMs(stack.forwarder.child.pid) ?? 0) : 0,
    renderer: proc.processCpuMs(stack.renderer.child.pid) ?? 0,
    chromium,
    chromium_by_type: chromiumByType,
    chromium_pids: pids,
    site: proc.processCpuMs(stack.site.child.pid) ?? 0,
    self: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
    machine: machineCpuMs(),
    sched_api: proc.schedStat(stack.api.child.pid),
    sched_renderer: proc.schedStat(stack.renderer.child.pid),
  };
}

/**
 * CPU (in cores) used between two snapshots taken `seconds` apart by processes other than ours
 * (loader, site, API, forwarder, renderer, Chromium): other people's load on the shared machine; and,
 * apart, interrupt/softirq time (mostly the loopback traffic of the benchmark itself) and
 * steal. Approximate: /proc/stat and per-process times are read at slightly different moments,
 * and a Chromium process that exited but has not been reaped yet counts as "others".
 */
function othersCores(before, after, seconds) {
  if (!before.machine || !after.machine || !(seconds > 0)) return { others: null, irq: null, steal: null };
  const ours = ['api', 'forwarder', 'renderer', 'chromium', 'site', 'self'].reduce((sum, key) => sum + (after[key] - before[key]), 0);
  const cores = (ms) => Number((ms / 1000 / seconds).toFixed(2));
  return {
    others: Math.max(0, cores(after.machine.tasks - before.machine.tasks - ours)),
    irq: cores(after.machine.irq - before.machine.irq),
    steal: cores(after.machine.steal - before.machine.steal),
  };
}

/**
 * Waits until the renderer has nothing running or queued (GET /healthz), so that one side's
 * leftovers never run into the other side's measurement.
 */
async function waitRendererIdle(renderer, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const h = await (await fetch(`${renderer.base}/healthz`)).json();
    if (h.running === 0 && h.queued === 0) return h;
    if (Date.now() > deadline) throw new Error(`renderer still busy after ${timeoutMs} ms: ${JSON.stringify(h)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The API's own GC pauses so far (seconds, by kind: minor, major, incremental, weakcb), from
 * prom-client's default nodejs_gc_duration_seconds on its GET /metrics: main-thread pauses only
 * (the helper threads' share of a scavenge is in the process's CPU, not here).
 */
async function apiGcSeconds(api) {
  const text = await (await fetch(`${api.base}/metrics`)).text();
  const byKind = {};
  for (const [, kind, seconds] of text.matchAll(/^nodejs_gc_duration_seconds_sum\{kind="(\w+)"\} (\S+)$/gm)) byKind[kind] = Number(seconds);
  return byKind;
}

async function postJson(url, body, headers = {}) {
  const t0 = process.hrtime.bigint();
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* reported below */
  }
  return { status: res.status, ms, json, text };
}

module.exports = {
  RENDERER_AUTH,
  benchContextKey,
  SITE_HOST,
  CHROMIUM,
  RENDERER_TOKEN,
  startStack,
  startSite,
  startRenderer,
  startApi,
  startForwarder,
  stopAll,
  affinities,
  cpuSnapshot,
  othersCores,
  chromiumPids,
  waitRendererIdle,
  apiGcSeconds,
  postJson,
};
