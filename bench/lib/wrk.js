'use strict';
/**
 * HTTP load with `wrk` (Debian's package), for P1. autocannon tops out near 30k req/s on one
 * core here, below what a bare server reaches, so it would flatter an app/bare ratio; wrk (C,
 * epoll) drives the same server well past that with CPU to spare, and this module measures
 * that spare: wrk's own CPU share of its core is returned with every run.
 *
 * wrk runs under `sh -c 'wrk …; cat /proc/$$/stat'`: once the shell has waited for wrk, its
 * cutime/cstime hold wrk's whole CPU time, which a poll of wrk's own /proc entry would cut
 * short at the end of the run.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const { canPin, clockTicks, processCpuMs, descendants, schedStat, LOADER_CPU } = require('./proc');

const WRK = process.env.WRK_PATH || 'wrk';
const DEFAULT_WRK = { connections: 50, threads: 1, warmupSeconds: 2, durationSeconds: 8 };

const UNIT_MS = { us: 0.001, ms: 1, s: 1000, m: 60000 };
const round = (x, digits) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x);

/** A wrk duration such as `981.00us` or `2.00ms`, in ms. */
function durationMs(text) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!m) throw new Error(`wrk: unreadable duration ${text}`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

/** The figures of wrk's `--latency` report. */
function parseWrk(out) {
  const total = /^\s*(\d+) requests in ([\d.]+)(us|ms|s|m),/m.exec(out);
  if (!total) throw new Error(`wrk: no request count in its output:\n${out}`);
  const latency = {};
  for (const [, p, value] of out.matchAll(/^\s+(50|75|90|99)%\s+([\d.]+(?:us|ms|s|m))$/gm)) latency[`p${p}`] = durationMs(value);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requests: Number(total[1]),
    seconds: Number(total[2]) * (UNIT_MS[total[3]] / 1000),
    non_2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    socket_errors: socket ? socket.slice(1).reduce((n, x) => n + Number(x), 0) : 0,
    latency_ms: latency,
  };
}

/** Run and wait time (ms) summed over a process's threads, from /proc; null once it is gone. */
function threadsSchedStat(pid) {
  try {
    let runMs = 0;
    let waitMs = 0;
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const [run, wait] = fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
      runMs += run / 1e6;
      waitMs += wait / 1e6;
    }
    return { runMs, waitMs, at: performance.now() };
  } catch {
    return null;
  }
}

/**
 * Runs wrk once; resolves with its parsed report, its CPU time (ms, user + system) and the
 * share of the run its threads waited for their core (sampled every 200 ms while it runs: a
 * loader starved by other processes sends less without using more CPU, which its CPU share
 * alone would not show).
 */
function wrkOnce(url, { connections, threads, seconds }) {
  const wrk = [WRK, `-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', url].map((a) => `'${a}'`).join(' ');
  const pinned = canPin() ? `taskset -c ${LOADER_CPU} ${wrk}` : wrk;
  const child = spawn('sh', ['-c', `${pinned}; s=$?; echo WRK_STAT; cat /proc/$$/stat; exit $s`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c) => (out += c));
  let first = null;
  let last = null;
  const sampler = setInterval(() => {
    const wrkPid = descendants(child.pid)[0];
    const sample = wrkPid === undefined ? null : threadsSchedStat(wrkPid);
    if (sample) [first, last] = [first ?? sample, sample];
  }, 200);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => {
      clearInterval(sampler);
      const waitShare = first && last && last.at > first.at ? (last.waitMs - first.waitMs) / (last.at - first.at) : null;
      const [report, stat = ''] = out.split('WRK_STAT\n');
      if (code !== 0) return reject(new Error(`wrk exited ${code}:\n${out}`));
      // Fields after the command name; cutime and cstime are fields 16 and 17 of stat(5).
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cpuMs = ((Number(f[13]) + Number(f[14])) * 1000) / clockTicks();
      resolve({ ...parseWrk(report), loaderCpuMs: cpuMs, loaderWaitShare: waitShare });
    });
  });
}

/**
 * Loads `url` with GET: a warm-up run (discarded), then one measured run. With `serverPid`,
 * the server's CPU time and core wait over the measured run are taken from /proc, so the
 * result carries CPU per request: under other load the req/s of a run drops, the CPU a
 * request costs much less so.
 */
async function measureWrk(url, { serverPid = null, ...load } = {}) {
  const { connections, threads, warmupSeconds, durationSeconds } = { ...DEFAULT_WRK, ...load };
  if (warmupSeconds > 0) await wrkOnce(url, { connections, threads, seconds: warmupSeconds });
  const cpu0 = serverPid ? processCpuMs(serverPid) : null;
  const sched0 = serverPid ? schedStat(serverPid) : null;
  const wall0 = process.hrtime.bigint();
  const r = await wrkOnce(url, { connections, threads, seconds: durationSeconds });
  const wallMs = Number(process.hrtime.bigint() - wall0) / 1e6;
  const cpu1 = serverPid ? processCpuMs(serverPid) : null;
  const sched1 = serverPid ? schedStat(serverPid) : null;
  const ok = r.requests - r.non_2xx;
  const serverCpuMs = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
  return {
    url,
    loader: 'wrk',
    connections,
    threads,
    duration_s: r.seconds,
    requests_total: r.requests,
    non_2xx: r.non_2xx,
    errors: r.socket_errors,
    /** Completed 2xx responses per second over the measured run. */
    req_per_s: round(ok / r.seconds, 1),
    latency_ms: r.latency_ms,
    /** Server CPU time per request (µs): the figure P1's decisions rest on. */
    server_cpu_us_per_req: serverCpuMs !== null && r.requests > 0 ? round((serverCpuMs * 1000) / r.requests, 1) : null,
    /** Share of one core used during the measured run (1 = a full core). */
    server_cpu: serverCpuMs !== null ? round(serverCpuMs / wallMs, 2) : null,
    /** wrk's CPU share of its own core: well below 1 means it could have sent more. */
    loader_cpu: round(r.loaderCpuMs / (r.seconds * 1000), 2),
    /** Share of the run wrk's threads were runnable but waiting for their core (others had it). */
    loader_wait_share: r.loaderWaitShare === null ? null : round(r.loaderWaitShare, 3),
    /** Share of the run the server's main thread was runnable but waiting for its core. */
    server_wait_share: sched0 && sched1 ? round((sched1.waitMs - sched0.waitMs) / wallMs, 3) : null,
  };
}

module.exports = { DEFAULT_WRK, measureWrk };
