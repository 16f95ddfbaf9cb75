'use strict';
/**
 * HTTP load with autocannon's programmatic API, run in this (the orchestrator's) process,
 * which run.js pins to the loader core. A warm-up run is discarded, then one run is measured.
 */
const { createHistogram } = require('node:perf_hooks');
const autocannon = require('autocannon');
const { processCpuMs, schedStat } = require('./proc');

const DEFAULT_LOAD = { connections: 50, pipelining: 1, warmupSeconds: 2, durationSeconds: 8 };

function once(opts, onResponse = null) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
    instance.on('error', reject);
    if (onResponse) instance.on('response', onResponse);
  });
}

/**
 * Loads `url` with GET; `serverPid` (optional) is sampled for CPU use so a loader-bound run
 * can be told from a server-bound one. Returns plain numbers for results.json.
 *
 * For other requests (P2's renders), `request` is passed to autocannon as is (`method`,
 * `headers`, `body`, `requests`, `setupClient`, `timeout`); `amount` replaces the measured
 * run's duration by a number of requests (each connection sends its share and waits for
 * every answer, so nothing is left in flight when the run ends); `onSample(status, ms)` is
 * called for every measured response, right after any `requests[].onResponse` of the same
 * response.
 */
async function measure(url, { serverPid = null, request = {}, amount = null, onSample = null, ...load } = {}) {
  const { connections, pipelining, warmupSeconds, durationSeconds } = { ...DEFAULT_LOAD, ...load };
  const base = { url, connections, pipelining, method: 'GET', timeout: 10, ...request };
  if (warmupSeconds > 0) await once({ ...base, duration: warmupSeconds });

  const serverCpu0 = serverPid ? processCpuMs(serverPid) : null;
  const serverSched0 = serverPid ? schedStat(serverPid) : null;
  const loaderSched0 = schedStat();
  const loaderCpu0 = process.cpuUsage();
  const wall0 = process.hrtime.bigint();
  // autocannon's own latency histogram has 1 ms steps; this one keeps microseconds (2xx only).
  const micros = createHistogram();
  const r = await once({ ...base, ...(amount ? { amount } : { duration: durationSeconds }) }, (client, status, bytes, ms) => {
    if (status >= 200 && status < 300) micros.record(Math.max(1, Math.round(ms * 1000)));
    onSample?.(status, ms);
  });
  const wallMs = Number(process.hrtime.bigint() - wall0) / 1e6;
  const loaderCpu = process.cpuUsage(loaderCpu0);
  const serverCpu1 = serverPid ? processCpuMs(serverPid) : null;
  const serverSched1 = serverPid ? schedStat(serverPid) : null;
  const loaderSched1 = schedStat();
  const waited = (a, b) => (a && b ? round((b.waitMs - a.waitMs) / wallMs, 3) : null);

  const ok = r.requests.total - r.non2xx;
  return {
    url,
    connections,
    pipelining,
    warmup_s: warmupSeconds,
    duration_s: r.duration,
    requests_total: r.requests.total,
    non_2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    /** Completed 2xx responses per second over the measured run. */
    req_per_s: round(ok / r.duration, 1),
    /** autocannon's mean of the per-second samples (all statuses). */
    req_per_s_mean_of_seconds: round(r.requests.average, 1),
    req_per_s_stddev: round(r.requests.stddev, 1),
    latency_ms: {
      mean: round(micros.mean / 1000, 3),
      p50: micros.percentile(50) / 1000,
      p90: micros.percentile(90) / 1000,
      p99: micros.percentile(99) / 1000,
      max: micros.max / 1000,
    },
    autocannon_latency_ms: { mean: r.latency.average, p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max },
    throughput_bytes_per_s: round(r.throughput.average, 0),
    /** Share of one core used during the measured run (1 = a full core). */
    server_cpu: serverCpu0 !== null && serverCpu1 !== null ? round((serverCpu1 - serverCpu0) / wallMs, 2) : null,
    loader_cpu: round((loaderCpu.user + loaderCpu.system) / 1000 / wallMs, 2),
    /**
     * Share of the run the server's / loader's main thread was runnable but waiting for its
     * core (another process had it): 0 on a quiet machine.
     */
    server_wait_share: waited(serverSched0, serverSched1),
    loader_wait_share: waited(loaderSched0, loaderSched1),
  };
}

const round = (x, digits) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x);

/** The median of numbers (the mean of the middle two for an even count). */
const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

module.exports = { DEFAULT_LOAD, measure, round, median };
