'use strict';
/**
 * P8: the Redis backend on a Redis Cluster (3 primaries + 3 replicas) against one Redis node,
 * same run, all on loopback (lib/redis-servers.js starts both in a temp directory and removes
 * them at the end).
 *
 * (1) Redis commands per session render (INFO commandstats). One API (`node dist/main.js`,
 *     SESSION_BACKEND=redis) per Redis, both behind one standalone renderer (lib/render-stack.js)
 *     rendering the tiny `/static` page of the local site on 127.0.0.2. For each side in turn:
 *     `CONFIG RESETSTAT` on every node, then N renders one at a time, and `INFO commandstats`
 *     summed over every primary, and MONITOR on every primary over the same window, which
 *     tells the commands a client sent (each one round trip) from those a Lua script ran
 *     inside its round trip (commandstats counts both). Replicas are left out (they only
 *     apply the primaries' stream), and so are commands that are not the app's requests:
 *     `replconf`/`psync`/`sync` (replication), `info`/`config` (this benchmark's own). Two
 *     cases: warm renders of one existing session (created before the counters are reset),
 *     and the first render of a new session id (a create on the request path). Background
 *     work with no request behind it (the cluster client's topology refresh) is measured over
 *     an idle window of the same length right after: the "net" figures subtract it. Work a
 *     render sets off but does not wait for (OFF_PATH below) is counted in the "all" figures
 *     and left out of the request-path one.
 * (2) Session-route throughput: `GET /v1/sessions/:id` with wrk pinned to the loader core as
 *     P1 (lib/wrk.js), the API on the server core, one node vs cluster alternated (ABBA); req/s,
 *     the API's CPU per request and the Redis servers' CPU per request (all nodes summed).
 *     The Redis servers run on the loader core (beside wrk and the site): not what is measured.
 *
 * No target (the issue gives none): the one-node figure is printed beside each cluster one.
 */
const path = require('node:path');
const { createHash } = require('node:crypto');
const proc = require('./lib/proc');
const stackLib = require('./lib/render-stack');
const redis = require('./lib/redis-servers');
const { measureWrk, DEFAULT_WRK } = require('./lib/wrk');
const { round } = require('./lib/load');
const { figure } = require('./lib/report');

const SINGLE_PORT = Number(process.env.P8_REDIS_PORT || 7510);
const CLUSTER_PORT = Number(process.env.P8_CLUSTER_PORT || 7520);
/** Renders counted per case and side. */
const RENDERS = { warm: 30, fresh: 10 };
/**
 * Round trips a render does not wait for (README "Redis Cluster"): rtBucketReport (the storage
 * budget's background re-read of all buckets, at most every second, so per render it depends
 * on how long the renders took), rtSeatSettle (a create's seat settled without waiting, and the
 * lazy catch-ups), and the cluster client's topology refresh (cluster|slots, client|setname).
 * What is left is the request path: the CDP lock read (GET) and one script per operation.
 */
const OFF_PATH = new Set(['evalsha:rtBucketReport', 'evalsha:rtSeatSettle', 'cluster|slots', 'client|setname']);
/** Commands that are not the app's: replication and this benchmark's own. */
const NOT_APP = new Set(['replconf', 'psync', 'sync', 'info', 'config']);
const WRK = { ...DEFAULT_WRK, warmupSeconds: 2, durationSeconds: 4 };
const ROUNDS = 4;

/** SHA1 -> the backend's script name (lua/session-scripts.ts), to name what each EVALSHA ran. */
function scriptNames() {
  try {
    const { SESSION_SCRIPTS } = require(path.join(__dirname, '..', 'dist', 'session', 'backends', 'lua', 'session-scripts.js'));
    return Object.fromEntries(Object.entries(SESSION_SCRIPTS).map(([name, d]) => [createHash('sha1').update(d.lua).digest('hex'), name]));
  } catch {
    return {};
  }
}
const SCRIPT_NAMES = scriptNames();
const byScript = (evalsha) => {
  const out = {};
  for (const [sha, n] of Object.entries(evalsha)) {
    const name = SCRIPT_NAMES[sha] ?? sha.slice(0, 12);
    out[name] = (out[name] ?? 0) + n;
  }
  return out;
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Calls per command summed over the given ports, app commands only. */
function sumCalls(stats, ports) {
  const total = {};
  for (const port of ports) {
    for (const [cmd, n] of Object.entries(stats[port] ?? {})) {
      if (NOT_APP.has(cmd.split('|')[0])) continue;
      total[cmd] = (total[cmd] ?? 0) + n;
    }
  }
  return total;
}
const count = (calls) => Object.values(calls).reduce((a, b) => a + b, 0);

/** Client commands (round trips) only: MONITOR's lines from a client, less this benchmark's own. */
const appOnly = (calls) => Object.fromEntries(Object.entries(calls).filter(([cmd]) => !NOT_APP.has(cmd.split('|')[0])));

async function countWindow(set, primaries, body) {
  const stopMonitor = await set.monitor(primaries);
  await set.resetStats();
  const t0 = performance.now();
  await body();
  const seconds = (performance.now() - t0) / 1000;
  const all = await set.commandStats();
  const monitored = await stopMonitor();
  return {
    seconds,
    calls: sumCalls(all, primaries),
    replica_calls: sumCalls(all, set.ports.filter((p) => !primaries.includes(p))),
    sent: appOnly(monitored.client),
    scripts: byScript(monitored.evalsha),
    in_scripts: monitored.script,
  };
}

async function run({ log, tmpDir }) {
  log(
    `  Redis one node (:${SINGLE_PORT}) vs cluster 3+3 (:${CLUSTER_PORT}-${CLUSTER_PORT + 5}); commands per render (${RENDERS.warm} warm renders of one session, ` +
      `${RENDERS.fresh} first renders of new sessions); then GET /v1/sessions/:id, wrk -c${WRK.connections}, ${ROUNDS} x ${WRK.durationSeconds} s per side, alternated`,
  );
  const redisCpu = proc.canPin() ? proc.LOADER_CPU : null;
  const sets = { single: redis.standalone(SINGLE_PORT, { cpu: redisCpu }), cluster: redis.cluster(CLUSTER_PORT, { cpu: redisCpu }) };
  const started = [];
  let renderer = null;
  const warnings = [];
  try {
    await sets.single.start();
    await sets.cluster.start();
    const site = await stackLib.startSite(tmpDir);
    started.push(site.child);
    renderer = await stackLib.startRenderer(tmpDir, 'p8-renderer');
    started.push(renderer.child);
    const apis = {};
    for (const side of ['single', 'cluster']) {
      apis[side] = await stackLib.startApi(tmpDir, renderer.base, `p8-api-${side}`, sets[side].env());
      started.push(apis[side].child);
    }
    const url = site.url('/static');
    const primaries = { single: [SINGLE_PORT], cluster: await sets.cluster.primaries() };

    // ---- (1) commands per render
    const problems = [];
    const render = async (side, sessionId) => {
      const r = await stackLib.postJson(`${apis[side].base}/v1/render`, { url, session_id: sessionId });
      if (!(r.status === 200 && typeof r.json?.html === 'string' && r.json.html.includes('<h1>static</h1>'))) {
        problems.push(`${side} ${sessionId}: ${r.status} ${r.text.slice(0, 200)}`);
      }
      return r.ms;
    };
    const perRender = {};
    for (const side of ['single', 'cluster']) {
      const warmId = `p8-warm-${side}`;
      // Created and warmed before the counters are reset: the renderer holds its context.
      for (let i = 0; i < 3; i++) await render(side, warmId);
      for (let i = 0; i < 2; i++) await render(side, `p8-fresh-${side}-warmup-${i}`);
      await stackLib.waitRendererIdle(renderer);
      const result = {};
      let freshN = 0;
      const cases = {
        warm: () => render(side, warmId),
        fresh: () => render(side, `p8-fresh-${side}-${++freshN}`),
      };
      for (const [kind, once] of Object.entries(cases)) {
        const ms = [];
        const busy = await countWindow(sets[side], primaries[side], async () => {
          for (let i = 0; i < RENDERS[kind]; i++) ms.push(await once());
          await stackLib.waitRendererIdle(renderer);
          // Writes the API makes after answering (a create's settle) land in the window.
          await sleep(200);
        });
        const idle = await countWindow(sets[side], primaries[side], () => sleep(busy.seconds * 1000));
        const scale = busy.seconds / idle.seconds;
        const background = count(idle.calls) * scale;
        const backgroundSent = count(idle.sent) * scale;
        const n = RENDERS[kind];
        result[kind] = {
          renders: n,
          seconds: round(busy.seconds, 2),
          render_ms_mean: round(mean(ms), 1),
          /** Round trips: commands clients sent (MONITOR), by name. */
          sent: busy.sent,
          sent_per_render_raw: round(count(busy.sent) / n, 2),
          sent_per_render_net: round((count(busy.sent) - backgroundSent) / n, 2),
          sent_per_render_by_command: Object.fromEntries(Object.entries(busy.sent).map(([c, k]) => [c, round(k / n, 2)])),
          /**
           * Round trips a render waits for: sent, less EVALSHA of the off-path scripts and the
           * topology refresh (OFF_PATH); EVAL (ioredis' resend after NOSCRIPT, the first use of a
           * script on a node) counts as the script it replaced.
           */
          request_path_per_render: round(
            (count(busy.sent) -
              [...OFF_PATH].reduce((k, key) => k + (key.startsWith('evalsha:') ? busy.scripts[key.slice(8)] ?? 0 : busy.sent[key] ?? 0), 0)) /
              n,
            2,
          ),
          request_path_by_command: Object.fromEntries(
            [
              ...Object.entries(busy.sent).filter(([c]) => c !== 'evalsha' && !OFF_PATH.has(c)),
              ...Object.entries(busy.scripts).filter(([name]) => !OFF_PATH.has(`evalsha:${name}`)).map(([name, k]) => [`evalsha:${name}`, k]),
            ].map(([c, k]) => [c, round(k / n, 2)]),
          ),
          /** EVALSHA per render by the backend's script name (raw: background included). */
          evalsha_per_render_by_script: Object.fromEntries(Object.entries(busy.scripts).map(([c, k]) => [c, round(k / n, 2)])),
          /** Commands Lua scripts ran inside those round trips (MONITOR). */
          in_scripts: busy.in_scripts,
          /** INFO commandstats over the primaries: both of the above. */
          commandstats: busy.calls,
          commandstats_per_render_raw: round(count(busy.calls) / n, 2),
          commandstats_per_render_net: round((count(busy.calls) - background) / n, 2),
          idle_window: { seconds: round(idle.seconds, 2), commandstats: idle.calls, sent: idle.sent, scripts: idle.scripts },
          background_in_window: { commandstats: round(background, 1), sent: round(backgroundSent, 1) },
          replica_commandstats_excluded: busy.replica_calls,
        };
        log(
          `    ${side.padEnd(7)} ${kind.padEnd(5)}: request path ${result[kind].request_path_per_render} round trips/render ${JSON.stringify(result[kind].request_path_by_command)}; ` +
            `all sent ${result[kind].sent_per_render_net}/render net ${JSON.stringify(result[kind].sent_per_render_by_command)}; ` +
            `scripts ${JSON.stringify(result[kind].evalsha_per_render_by_script)}; ` +
            `${result[kind].commandstats_per_render_net} commands/render by INFO commandstats (scripts' inner commands included); ` +
            `background in the window: ${result[kind].background_in_window.sent} sent, ${result[kind].background_in_window.commandstats} commandstats`,
        );
      }
      perRender[side] = result;
    }
    if (problems.length) warnings.push(`${problems.length} failed renders; first: ${problems[0]}`);

    // ---- (2) GET /v1/sessions/:id throughput
    const targets = {};
    for (const side of ['single', 'cluster']) {
      const created = await stackLib.postJson(`${apis[side].base}/v1/sessions`, {});
      if (created.status !== 201) throw new Error(`${side}: POST /v1/sessions ${created.status} ${created.text}`);
      const path = `/v1/sessions/${encodeURIComponent(created.json.session_id)}`;
      const got = await fetch(apis[side].base + path);
      await got.arrayBuffer();
      if (got.status !== 200) throw new Error(`${side}: GET ${path} ${got.status}`);
      targets[side] = { url: apis[side].base + path, runs: [] };
    }
    await stackLib.waitRendererIdle(renderer);
    // Warm-up per side (discarded), so the counters of each measured run hold that run only.
    for (const side of ['single', 'cluster']) await measureWrk(targets[side].url, { ...WRK, warmupSeconds: 0, durationSeconds: WRK.warmupSeconds });
    for (let r = 0; r < ROUNDS; r++) {
      for (const side of r % 2 === 0 ? ['single', 'cluster'] : ['cluster', 'single']) {
        const t = targets[side];
        await sets[side].resetStats();
        const redis0 = sets[side].cpuMs();
        const m = await measureWrk(t.url, { ...WRK, warmupSeconds: 0, serverPid: apis[side].child.pid });
        const redisMs = sets[side].cpuMs() - redis0;
        const calls = sumCalls(await sets[side].commandStats(), primaries[side]);
        const sent = m.requests_total || null;
        const scripts = (calls.evalsha ?? 0) + (calls.eval ?? 0);
        t.runs.push({
          ...m,
          redis_cpu_ms: round(redisMs, 1),
          redis_calls: calls,
          redis_commands_per_request: sent ? round(count(calls) / sent, 3) : null,
          redis_scripts_per_request: sent ? round(scripts / sent, 3) : null,
        });
        log(
          `    round ${r + 1} ${side.padEnd(7)}: ${m.req_per_s} req/s, API ${m.server_cpu_us_per_req} µs CPU/req, p50 ${m.latency_ms.p50} ms, ` +
            `API core busy ${round((m.server_cpu ?? 0) * 100, 1)}% waited ${round((m.server_wait_share ?? 0) * 100, 1)}%; ` +
            `Redis ${round((redisMs * 1000) / m.requests_total, 1)} µs CPU/req, ${t.runs.at(-1).redis_commands_per_request} commands/req ${JSON.stringify(calls)}`,
        );
      }
    }
    const avg = (side, pick, digits = 1) => round(mean(targets[side].runs.map(pick).filter((v) => typeof v === 'number')), digits);
    const rate = { single: avg('single', (m) => m.req_per_s), cluster: avg('cluster', (m) => m.req_per_s) };
    const cpu = { single: avg('single', (m) => m.server_cpu_us_per_req), cluster: avg('cluster', (m) => m.server_cpu_us_per_req) };
    const redisUs = (side) =>
      round(
        mean(targets[side].runs.map((m) => (m.redis_cpu_ms * 1000) / m.requests_total)),
        1,
      );
    const unsaturated = Object.entries(targets)
      .filter(([, t]) => t.runs.some((m) => (m.server_cpu ?? 0) + (m.server_wait_share ?? 0) < 0.9))
      .map(([side]) => side);
    if (unsaturated.length) warnings.push(`API core not saturated in some runs (${unsaturated.join(', ')}): req/s there is not the API's capacity (Redis latency or a busy machine); CPU per request is the steadier figure`);
    const errs = Object.entries(targets).filter(([, t]) => t.runs.some((m) => m.non_2xx > 0 || m.errors > 0));
    if (errs.length) warnings.push(`non-2xx or socket errors in the throughput runs (${errs.map(([s]) => s).join(', ')})`);

    const sentList = (side, kind) =>
      Object.entries(perRender[side][kind].sent_per_render_by_command)
        .sort(([, a], [, b]) => b - a)
        .map(([c, k]) => `${c} ${k}`)
        .join(', ');
    const scriptList = (side, kind) =>
      Object.entries(perRender[side][kind].evalsha_per_render_by_script)
        .sort(([, a], [, b]) => b - a)
        .map(([c, k]) => `${c} ${k}`)
        .join(', ');
    const pr = (side, kind, key) => perRender[side][kind][key];
    const ratioOf = (kind, key) => round(pr('cluster', kind, key) / pr('single', kind, key), 3);
    const perGet = (side, key) => avg(side, (m) => m[key], 3);
    const pathList = (side, kind) =>
      Object.entries(pr(side, kind, 'request_path_by_command'))
        .sort(([, a], [, b]) => b - a)
        .map(([c, k]) => `${c} ${k}`)
        .join(', ');
    const figures = [
      figure('single_request_path_round_trips_per_warm_render', 'one node: request-path round trips per warm render', pr('single', 'warm', 'request_path_per_render'), '', null, pathList('single', 'warm')),
      figure('cluster_request_path_round_trips_per_warm_render', 'cluster: request-path round trips per warm render', pr('cluster', 'warm', 'request_path_per_render'), '', null, `${pathList('cluster', 'warm')}; one node ${pr('single', 'warm', 'request_path_per_render')}`),
      figure('single_request_path_round_trips_per_first_render', 'one node: request-path round trips per first render', pr('single', 'fresh', 'request_path_per_render'), '', null, `${pathList('single', 'fresh')} (the two rtSeatTake are sent at once)`),
      figure('cluster_request_path_round_trips_per_first_render', 'cluster: request-path round trips per first render', pr('cluster', 'fresh', 'request_path_per_render'), '', null, `${pathList('cluster', 'fresh')}; one node ${pr('single', 'fresh', 'request_path_per_render')}`),
      figure('single_round_trips_per_warm_render', 'one node: all round trips per warm render (net of idle)', pr('single', 'warm', 'sent_per_render_net'), '', null, `sent per render (raw): ${sentList('single', 'warm')}; scripts: ${scriptList('single', 'warm')}`),
      figure('cluster_round_trips_per_warm_render', 'cluster: all round trips per warm render (net of idle)', pr('cluster', 'warm', 'sent_per_render_net'), '', null, `sent per render (raw): ${sentList('cluster', 'warm')}; scripts: ${scriptList('cluster', 'warm')}; one node ${pr('single', 'warm', 'sent_per_render_net')}`),
      figure('ratio_round_trips_warm_cluster_over_single', 'ratio cluster / one node (warm render, round trips)', ratioOf('warm', 'sent_per_render_net'), '', null, "includes rtBucketReport, a re-read at most every second: per render it moves with how long the renders took; the request-path figures don't"),
      figure('single_commandstats_per_warm_render', 'one node: commands per warm render (INFO commandstats)', pr('single', 'warm', 'commandstats_per_render_net'), '', null, "commandstats counts each script's inner commands too"),
      figure('cluster_commandstats_per_warm_render', 'cluster: commands per warm render (INFO commandstats)', pr('cluster', 'warm', 'commandstats_per_render_net'), '', null, `one node ${pr('single', 'warm', 'commandstats_per_render_net')}; primaries only`),
      figure('ratio_commandstats_warm_cluster_over_single', 'ratio cluster / one node (warm render, commandstats)', ratioOf('warm', 'commandstats_per_render_net'), '', null, "includes rtBucketReport, a re-read at most every second: per render it moves with how long the renders took; the request-path figures don't"),
      figure('single_round_trips_per_first_render', 'one node: all round trips per first render (net of idle)', pr('single', 'fresh', 'sent_per_render_net'), '', null, `sent per render (raw): ${sentList('single', 'fresh')}; scripts: ${scriptList('single', 'fresh')}`),
      figure('cluster_round_trips_per_first_render', 'cluster: all round trips per first render (net of idle)', pr('cluster', 'fresh', 'sent_per_render_net'), '', null, `sent per render (raw): ${sentList('cluster', 'fresh')}; scripts: ${scriptList('cluster', 'fresh')}; one node ${pr('single', 'fresh', 'sent_per_render_net')}`),
      figure('ratio_round_trips_first_cluster_over_single', 'ratio cluster / one node (first render, round trips)', ratioOf('fresh', 'sent_per_render_net'), '', null, "includes rtBucketReport, a re-read at most every second: per render it moves with how long the renders took; the request-path figures don't"),
      figure('single_commandstats_per_first_render', 'one node: commands per first render (INFO commandstats)', pr('single', 'fresh', 'commandstats_per_render_net'), ''),
      figure('cluster_commandstats_per_first_render', 'cluster: commands per first render (INFO commandstats)', pr('cluster', 'fresh', 'commandstats_per_render_net'), '', null, `one node ${pr('single', 'fresh', 'commandstats_per_render_net')}`),
      figure('ratio_commandstats_first_cluster_over_single', 'ratio cluster / one node (first render, commandstats)', ratioOf('fresh', 'commandstats_per_render_net'), '', null, "includes rtBucketReport, a re-read at most every second: per render it moves with how long the renders took; the request-path figures don't"),
      figure('single_get_req_per_s', 'one node: GET /v1/sessions/:id req/s', rate.single, 'req/s'),
      figure('cluster_get_req_per_s', 'cluster: GET /v1/sessions/:id req/s', rate.cluster, 'req/s', null, `one node: ${rate.single} req/s`),
      figure('ratio_get_cluster_over_single', 'ratio req/s cluster / one node', round(rate.cluster / rate.single, 3), ''),
      figure('single_commandstats_per_get', 'one node: commands per GET (INFO commandstats)', perGet('single', 'redis_commands_per_request'), '', null, `scripts (evalsha/eval) per GET: ${perGet('single', 'redis_scripts_per_request')}`),
      figure('cluster_commandstats_per_get', 'cluster: commands per GET (INFO commandstats)', perGet('cluster', 'redis_commands_per_request'), '', null, `scripts (evalsha/eval) per GET: ${perGet('cluster', 'redis_scripts_per_request')}; one node ${perGet('single', 'redis_commands_per_request')}`),
      figure('single_api_cpu_us_per_req', 'one node: API CPU per request', cpu.single, 'µs'),
      figure('cluster_api_cpu_us_per_req', 'cluster: API CPU per request', cpu.cluster, 'µs', null, `one node: ${cpu.single} µs`),
      figure('cpu_ratio_single_over_cluster', 'API CPU ratio one node / cluster', round(cpu.single / cpu.cluster, 3), '', null, 'the throughput ratio from CPU per request: steadier than req/s on a busy machine'),
      figure('api_core_wait_share', 'API core taken by others (both sides)', round(mean([...targets.single.runs, ...targets.cluster.runs].map((m) => m.server_wait_share ?? 0)) * 100, 1), '%', null, '0 on a quiet machine; high: the req/s figures are noisy'),
      figure('single_redis_cpu_us_per_req', 'one node: Redis CPU per request', redisUs('single'), 'µs'),
      figure('cluster_redis_cpu_us_per_req', 'cluster: Redis CPU per request (6 nodes)', redisUs('cluster'), 'µs', null, `one node: ${redisUs('single')} µs; replicas included`),
    ];
    return {
      figures,
      warnings,
      details: {
        redis: {
          single: { port: SINGLE_PORT },
          cluster: { ports: sets.cluster.ports, primaries: primaries.cluster, note: '3 primaries + 3 replicas, --cluster-node-timeout 1000' },
          pinning: redisCpu === null ? 'not pinned' : `redis-server on CPU ${redisCpu} (the loader core)`,
          counted: 'INFO commandstats calls summed over the primaries; replicas and replconf/psync/sync/info/config excluded',
        },
        page: url,
        commands_per_render: perRender,
        get_route: {
          loader: `wrk -t${WRK.threads} -c${WRK.connections}, ${ROUNDS} x ${WRK.durationSeconds} s per side, alternated, ${WRK.warmupSeconds} s warm-up per side`,
          single: targets.single.runs,
          cluster: targets.cluster.runs,
        },
        pinning: { loader: proc.cpusAllowed(), api_single: proc.cpusAllowed(apis.single.child.pid), api_cluster: proc.cpusAllowed(apis.cluster.child.pid) },
      },
    };
  } finally {
    await stackLib.stopAll(started, renderer);
    await sets.single.stop();
    await sets.cluster.stop();
  }
}

module.exports = {
  id: 'p8-redis-cluster',
  title: 'P8  Redis Cluster vs one node — commands per session render (INFO commandstats), GET /v1/sessions/:id throughput',
  run,
};
