'use strict';
/**
 * Child processes for the benchmarks: servers and measurement children pinned to one core
 * with `taskset`, free loopback ports, waiting for a port, stopping cleanly.
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const LOOPBACK = '127.0.0.1';
/**
 * The node flags the API is started with (`npm start`, and the image's CMD): the flags between
 * `node` and the script in package.json's start script. Every API a benchmark starts, and the
 * memory-backend children (P3, P4), run with them, so the figures are those of the service.
 */
const API_NODE_FLAGS = require('../../package.json').scripts.start.split(/\s+/).filter((word) => word.startsWith('--'));
/** Core of the load generator / orchestrator and core of the measured process. */
const LOADER_CPU = 0;
const SERVER_CPU = 1;

/** Children still running, killed if the orchestrator exits or is interrupted. */
const live = new Set();
function killAll() {
  for (const child of live) child.kill('SIGKILL');
}
process.on('exit', killAll);

let tasksetChecked;
/** True when `taskset` exists and this machine has the two cores the pinning uses. */
function canPin() {
  if (tasksetChecked === undefined) {
    const probe = spawnSync('taskset', ['-c', String(SERVER_CPU), 'true'], { stdio: 'ignore' });
    tasksetChecked = probe.status === 0 && os.cpus().length >= 2;
  }
  return tasksetChecked;
}

/** The CPU list a process may run on, from /proc (Linux), or null. */
function cpusAllowed(pid = 'self') {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return /^Cpus_allowed_list:\s*(.+)$/m.exec(status)?.[1].trim() ?? null;
  } catch {
    return null;
  }
}

let ticks;
function clockTicks() {
  if (ticks === undefined) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    ticks = Number(out.stdout) > 0 ? Number(out.stdout) : 100;
  }
  return ticks;
}

/** CPU time (ms, user+system) a process has used so far, from /proc/<pid>/stat, or null. */
function cpuTimeMs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11], fields[12] are utime and stime (fields 14 and 15 of stat(5)) in clock ticks.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks();
  } catch {
    return null;
  }
}

/**
 * CPU time (ms) of a process plus that of its children that have exited and been waited for
 * (cutime, cstime): a parent that reaps short-lived workers keeps their CPU in the sum.
 */
function cpuTimeWithChildrenMs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 1000) / clockTicks();
  } catch {
    return null;
  }
}

/**
 * Scheduler statistics of a process's main thread (/proc/<pid>/schedstat): time run on a CPU
 * and time spent runnable but waiting for one (ms). The wait is the noise indicator: on a
 * shared machine other processes on the same core show up there. Null where unavailable.
 */
function schedStat(pid = 'self') {
  try {
    const [run, wait] = fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    return { runMs: run / 1e6, waitMs: wait / 1e6 };
  } catch {
    return null;
  }
}

/**
 * Time (ms) the threads of a process have run on a CPU, from each thread's schedstat: in
 * nanoseconds, where /proc/<pid>/stat counts 10 ms ticks (a run of 20 renders at 3 ms each is
 * 6 ticks). `helpersOnly` leaves the main thread out. Null where schedstat is unavailable.
 */
function threadsRunMs(pid = process.pid, { helpersOnly = false } = {}) {
  let total = 0;
  let tids;
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  for (const tid of tids) {
    if (helpersOnly && tid === String(pid)) continue;
    try {
      total += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
    } catch {
      // The thread ended meanwhile.
    }
  }
  return total;
}

/** CPU time (ms) of a process: its threads' schedstat run time, else /proc/<pid>/stat's ticks. */
const processCpuMs = (pid) => threadsRunMs(pid) ?? cpuTimeMs(pid);

/** CPU time (ms) this process's threads other than the main one have run: V8's and libuv's helpers. */
const helperThreadsRunMs = () => threadsRunMs(process.pid, { helpersOnly: true }) ?? 0;

/**
 * Waits until this process's helper threads have gone quiet (under 0.2 ms of CPU in 50 ms),
 * at most `maxMs`. After a forced full GC, V8 goes on sweeping the heap's pages on its worker
 * threads for a while; on one pinned core they take turns with the main thread, so a
 * measurement window opened at once would count that leftover work as its own delay.
 * Returns how long it waited (ms) and whether the threads went quiet.
 */
async function helperThreadsQuiet(maxMs = 3000) {
  const started = Date.now();
  let before = helperThreadsRunMs();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = helperThreadsRunMs();
    if (now - before < 0.2) return { waitedMs: Date.now() - started, quiet: true };
    if (Date.now() - started >= maxMs) return { waitedMs: Date.now() - started, quiet: false };
    before = now;
  }
}

/**
 * Pins every thread of a running process to `cpu` (`taskset -a -p`). Processes it starts
 * afterwards inherit that; ones it started before keep their own affinity. False when
 * pinning is unavailable or taskset failed.
 */
function pinProcess(pid, cpu = SERVER_CPU) {
  if (!canPin()) return false;
  return spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' }).status === 0;
}

/** The pids of a process's descendants (children, their children, …), from /proc. */
function descendants(pid) {
  const children = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  const out = [];
  const todo = [Number(pid)];
  while (todo.length) {
    for (const child of children.get(todo.pop()) ?? []) {
      out.push(child);
      todo.push(child);
    }
  }
  return out;
}

/** kB of PSS (falls back to RSS when smaps_rollup is unreadable). */
function pssKb(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    return Number(/^Pss:\s+(\d+)/m.exec(text)?.[1] ?? 0);
  } catch {
    return rssKb(pid);
  }
}

function rssKb(pid) {
  try {
    return Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** A port that was free on the loopback interface a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, LOOPBACK, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts `node <args>` pinned to `cpu` (when pinning is possible; `cpu: null` leaves it
 * unpinned). Output goes to `logFile` (or is ignored), never through a pipe the orchestrator
 * would have to drain on its core; with `captureStdout` the child's stdout is piped instead
 * (for small result lines).
 */
function spawnNode({ args, env = {}, cpu = SERVER_CPU, logFile = null, captureStdout = false, nodeFlags = [] }) {
  const fullEnv = { ...process.env, ...env };
  for (const [key, value] of Object.entries(fullEnv)) if (value === undefined) delete fullEnv[key];
  const logFd = logFile ? fs.openSync(logFile, 'w') : 'ignore';
  const stdio = ['ignore', captureStdout ? 'pipe' : logFd, logFd];
  const nodeArgs = [...nodeFlags, ...args];
  const pinned = canPin() && cpu !== null;
  const child = pinned
    ? spawn('taskset', ['-c', String(cpu), process.execPath, ...nodeArgs], { env: fullEnv, stdio })
    : spawn(process.execPath, nodeArgs, { env: fullEnv, stdio });
  if (typeof logFd === 'number') fs.closeSync(logFd);
  child.pinnedTo = pinned ? cpu : null;
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.logFile = logFile;
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return child;
}

/** Resolves once `port` accepts TCP connections; rejects on timeout or if `child` exits first. */
async function waitForPort(port, { child = null, timeoutMs = 20000, host = LOOPBACK } = {}) {
  const deadline = Date.now() + timeoutMs;
  let exited = null;
  child?.exited.then((how) => (exited = how));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`process exited (${exited.code ?? exited.signal}) before listening on ${port}${logTail(child)}`);
    const ok = await new Promise((resolve) => {
      const socket = net.connect({ port, host });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listening on ${host}:${port} after ${timeoutMs} ms${logTail(child)}`);
}

/** SIGTERM, then SIGKILL if the process is still there after `graceMs`. */
async function stop(child, graceMs = 5000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

/** The last lines of a child's log file, for error messages. */
function logTail(child, lines = 15) {
  if (!child?.logFile) return '';
  try {
    const text = fs.readFileSync(child.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    return text ? `\n--- ${child.logFile} (tail) ---\n${text}` : '';
  } catch {
    return '';
  }
}

/**
 * Runs a measurement child (`node <flags> <script> <args>`, pinned to the server core) that
 * prints one line `BENCH_RESULT <json>` on stdout; resolves with the parsed JSON.
 */
async function runMeasurementChild({ script, args = [], nodeFlags = [], env = {}, timeoutMs = 120000, logFile }) {
  const child = spawnNode({ args: [script, ...args], nodeFlags, env, captureStdout: true, logFile });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => (out += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const { code, signal } = await child.exited;
  clearTimeout(timer);
  const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (code !== 0 || !line) {
    throw new Error(
      `${path.basename(script)} ${args.join(' ')} failed (${signal ?? `exit ${code}`})\n${out.trim()}${logTail(child)}`,
    );
  }
  return { ...JSON.parse(line.slice('BENCH_RESULT '.length)), pinned_cpu: child.pinnedTo };
}

/** In a measurement child: hands the result to the orchestrator. */
function emitResult(result) {
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
}

module.exports = {
  LOOPBACK,
  API_NODE_FLAGS,
  LOADER_CPU,
  SERVER_CPU,
  canPin,
  killAll,
  pinProcess,
  descendants,
  cpusAllowed,
  cpuTimeMs,
  processCpuMs,
  cpuTimeWithChildrenMs,
  pssKb,
  rssKb,
  clockTicks,
  schedStat,
  helperThreadsQuiet,
  freePort,
  spawnNode,
  waitForPort,
  stop,
  logTail,
  runMeasurementChild,
  emitResult,
};
