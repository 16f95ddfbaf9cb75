'use strict';
/**
 * P1: GET /v1/sessions/:id through the whole app (node dist/main.js: Nest, Fastify adapter,
 * pino-http, pipes, filter, memory backend) against a bare Fastify server returning the same
 * JSON object. Both servers run pinned to the server core; autocannon runs in the orchestrator,
 * pinned to the loader core. Target: app req/s >= 0.70 x bare req/s, with LOG_LEVEL=warn.
 *
 * For information, a third server in the same rounds: a minimal NestJS app on the Fastify
 * adapter (servers/bare-nest.js, one controller, nothing else), so the ratios app / bare-nest
 * and bare-nest / bare Fastify show how much of the gap is Nest's own floor.
 */
const fs = require('node:fs');
const path = require('node:path');
const { freePort, spawnNode, waitForPort, stop, cpusAllowed, LOOPBACK } = require('./lib/proc');
const { measure, round, DEFAULT_LOAD } = require('./lib/load');
const { figure } = require('./lib/report');

const ROOT = path.resolve(__dirname, '..');
const MAIN = path.join(ROOT, 'dist', 'main.js');
const BARE = path.join(__dirname, 'servers', 'bare-fastify.js');
const BARE_NEST = path.join(__dirname, 'servers', 'bare-nest.js');
const TARGET_RATIO = 0.7;
/** Measured runs per server (warn app, bare, bare-nest), alternated. */
const ROUNDS = 2;

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (share) => (share === null ? 'n/a' : `${(share * 100).toFixed(1)}%`);

/** The mean over runs of each figure; the runs themselves are kept for results.json. */
function combine(runs) {
  const avg = (pick, digits = 2) => {
    const values = runs.map(pick).filter((v) => typeof v === 'number');
    return values.length ? round(mean(values), digits) : null;
  };
  return {
    req_per_s: avg((r) => r.req_per_s, 1),
    latency_ms: { p50: avg((r) => r.latency_ms.p50, 3), p99: avg((r) => r.latency_ms.p99, 3) },
    non_2xx: runs.reduce((n, r) => n + r.non_2xx, 0),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    server_cpu: avg((r) => r.server_cpu),
    loader_cpu: avg((r) => r.loader_cpu),
    server_wait_share: avg((r) => r.server_wait_share, 3),
    loader_wait_share: avg((r) => r.loader_wait_share, 3),
    url: runs[0].url,
    runs,
  };
}

async function startApp(logLevel, tmpDir) {
  const port = await freePort();
  const logFile = path.join(tmpDir, `app-${logLevel}.log`);
  const child = spawnNode({
    args: [MAIN],
    logFile,
    env: {
      PORT: String(port),
      HOST: LOOPBACK,
      LOG_LEVEL: logLevel,
      API_KEYS: '',
      // Keeps the (future) embedded renderer and its Chromium out of this measurement; the
      // route measured never renders.
      HEADLESS_URLS: `http://${LOOPBACK}:${await freePort()}`,
      HEADLESS_PORT: String(await freePort()),
    },
  });
  await waitForPort(port, { child, timeoutMs: 30000 });
  return { child, port, logFile, base: `http://${LOOPBACK}:${port}` };
}

async function startBare(bodyFile, script = BARE) {
  const port = await freePort();
  const child = spawnNode({ args: [script], env: { PORT: String(port), BARE_BODY_FILE: bodyFile } });
  await waitForPort(port, { child, timeoutMs: 30000 });
  return { child, port, base: `http://${LOOPBACK}:${port}` };
}

/** Creates a session through the API and reads it back once; returns its id and the body. */
async function sessionOf(app) {
  const created = await fetch(`${app.base}/v1/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  if (created.status !== 201) throw new Error(`POST /v1/sessions: ${created.status} ${await created.text()}`);
  const { session_id: id } = await created.json();
  const path = `/v1/sessions/${encodeURIComponent(id)}`;
  const got = await fetch(app.base + path);
  const body = await got.text();
  if (got.status !== 200) throw new Error(`GET ${path}: ${got.status} ${body}`);
  return { id, path, body };
}

async function run({ log, tmpDir, load = {} }) {
  const settings = { ...DEFAULT_LOAD, ...load };
  const started = [];
  try {
    log(
      `  starting app (LOG_LEVEL=warn), bare Fastify and bare Nest; ${settings.connections} connections, pipelining ${settings.pipelining}, ` +
        `warm-up ${settings.warmupSeconds} s, then ${ROUNDS} x ${settings.durationSeconds} s measured per server, alternated`,
    );
    const app = await startApp('warn', tmpDir);
    started.push(app.child);
    const session = await sessionOf(app);
    const bodyFile = path.join(tmpDir, 'session-body.json');
    fs.writeFileSync(bodyFile, session.body);
    const bare = await startBare(bodyFile);
    started.push(bare.child);
    const bareBody = await (await fetch(bare.base + session.path)).text();
    if (bareBody !== session.body) throw new Error(`bare server body differs from the app's:\n${bareBody}\n${session.body}`);
    const nest = await startBare(bodyFile, BARE_NEST);
    started.push(nest.child);
    const nestBody = await (await fetch(nest.base + session.path)).text();
    if (nestBody !== session.body) throw new Error(`bare Nest server body differs from the app's:\n${nestBody}\n${session.body}`);

    // ABBA order over the rounds, so a drift in the machine's load does not favour one side;
    // the bare Nest reference runs first and last (nest, app, bare, bare, app, nest), so that
    // one burst of other load cannot hit both of its runs, and the app/bare order is as before.
    const appRuns = [];
    const bareRuns = [];
    const nestRuns = [];
    const servers = { app: [app, appRuns], bare: [bare, bareRuns], nest: [nest, nestRuns] };
    const labels = { app: 'app (warn)', bare: 'bare      ', nest: 'bare Nest ' };
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ['nest', 'app', 'bare'] : ['bare', 'app', 'nest'];
      for (const which of order) {
        const [target, runs] = servers[which];
        const r = await measure(target.base + session.path, {
          ...settings,
          warmupSeconds: runs.length === 0 ? settings.warmupSeconds : 0,
          serverPid: target.child.pid,
        });
        runs.push(r);
        log(`    round ${round + 1} ${labels[which]}: ${r.req_per_s} req/s, p50 ${r.latency_ms.p50} ms, p99 ${r.latency_ms.p99} ms, server core waited ${pct(r.server_wait_share)}`);
      }
    }
    const appWarn = combine(appRuns);
    const bareRun = combine(bareRuns);
    const nestRun = combine(nestRuns);
    const serverCpus = { app: cpusAllowed(app.child.pid), bare: cpusAllowed(bare.child.pid), bare_nest: cpusAllowed(nest.child.pid) };
    await stop(app.child);
    await stop(nest.child);

    // The default level: the app logs every request at info (to a file here, not a pipe).
    log('  loading app (LOG_LEVEL=info, request log to a file)…');
    const appInfoServer = await startApp('info', tmpDir);
    started.push(appInfoServer.child);
    const infoSession = await sessionOf(appInfoServer);
    const appInfo = combine([await measure(appInfoServer.base + infoSession.path, { ...settings, serverPid: appInfoServer.child.pid })]);
    log(`    app (info)  : ${appInfo.req_per_s} req/s, p50 ${appInfo.latency_ms.p50} ms, p99 ${appInfo.latency_ms.p99} ms`);
    const infoLogBytes = fs.statSync(appInfoServer.logFile).size;
    await stop(appInfoServer.child);
    fs.rmSync(appInfoServer.logFile, { force: true });

    const ratio = round(appWarn.req_per_s / bareRun.req_per_s, 3);
    const ratioInfo = round(appInfo.req_per_s / bareRun.req_per_s, 3);
    const ratioAppOverNest = round(appWarn.req_per_s / nestRun.req_per_s, 3);
    const ratioNestOverBare = round(nestRun.req_per_s / bareRun.req_per_s, 3);
    const errors = [appWarn, bareRun, nestRun, appInfo].filter((r) => r.non_2xx > 0 || r.errors > 0);
    const loaderBound = bareRun.loader_cpu >= 0.9 && (bareRun.server_cpu ?? 1) < 0.9;
    const noisy = [appWarn, bareRun, nestRun, appInfo].some((r) => (r.server_wait_share ?? 0) > 0.05 || (r.loader_wait_share ?? 0) > 0.05);
    const figures = [
      figure('app_warn_req_per_s', 'app, LOG_LEVEL=warn: req/s', appWarn.req_per_s, 'req/s'),
      figure('app_warn_p50_ms', 'app, LOG_LEVEL=warn: p50 latency', appWarn.latency_ms.p50, 'ms'),
      figure('app_warn_p99_ms', 'app, LOG_LEVEL=warn: p99 latency', appWarn.latency_ms.p99, 'ms'),
      figure('bare_req_per_s', 'bare Fastify: req/s', bareRun.req_per_s, 'req/s'),
      figure('bare_p50_ms', 'bare Fastify: p50 latency', bareRun.latency_ms.p50, 'ms'),
      figure('bare_p99_ms', 'bare Fastify: p99 latency', bareRun.latency_ms.p99, 'ms'),
      figure('ratio_app_warn_over_bare', 'ratio app (warn) / bare', ratio, '', { op: '>=', value: TARGET_RATIO }),
      figure('server_core_wait_share', 'server core taken by others', round(mean([appWarn.server_wait_share ?? 0, bareRun.server_wait_share ?? 0]) * 100, 1), '%', null, 'share of the runs the pinned server waited for its core; 0 on a quiet machine'),
      figure('app_info_req_per_s', 'app, LOG_LEVEL=info: req/s', appInfo.req_per_s, 'req/s'),
      figure('app_info_p50_ms', 'app, LOG_LEVEL=info: p50 latency', appInfo.latency_ms.p50, 'ms'),
      figure('app_info_p99_ms', 'app, LOG_LEVEL=info: p99 latency', appInfo.latency_ms.p99, 'ms'),
      figure('ratio_app_info_over_bare', 'ratio app (info) / bare', ratioInfo, '', null, 'informational; the target is stated for warn'),
      figure('bare_nest_req_per_s', 'bare Nest (Fastify adapter): req/s', nestRun.req_per_s, 'req/s'),
      figure('bare_nest_p50_ms', 'bare Nest: p50 latency', nestRun.latency_ms.p50, 'ms'),
      figure('bare_nest_p99_ms', 'bare Nest: p99 latency', nestRun.latency_ms.p99, 'ms'),
      figure('ratio_app_warn_over_bare_nest', 'ratio app (warn) / bare Nest', ratioAppOverNest, '', null, "informational: the app against Nest's own floor"),
      figure('ratio_bare_nest_over_bare', 'ratio bare Nest / bare Fastify', ratioNestOverBare, '', null, 'informational: the ceiling any Nest app on this adapter has against bare Fastify'),
    ];
    return {
      figures,
      warnings: [
        ...errors.map((r) => `${r.url}: ${r.non_2xx} non-2xx, ${r.errors} errors (req/s counts 2xx only)`),
        ...(loaderBound ? ['bare run looks loader-bound (loader core busy, server core not): the ratio is flattered'] : []),
        ...(noisy ? ['other processes took the pinned cores for more than 5% of a run (see *_wait_share in results.json): figures are noisy'] : []),
      ],
      details: {
        route: 'GET /v1/sessions/:id',
        body_bytes: Buffer.byteLength(session.body),
        app_env: 'PORT=<free>, HOST=127.0.0.1, LOG_LEVEL=warn|info, API_KEYS empty, HEADLESS_URLS=<closed loopback port>',
        info_log_bytes_written: infoLogBytes,
        load: settings,
        pinning: { loader: cpusAllowed(), servers: serverCpus },
        app_warn: appWarn,
        bare: bareRun,
        bare_nest: nestRun,
        app_info: appInfo,
      },
    };
  } finally {
    for (const child of started) await stop(child);
  }
}

module.exports = {
  id: 'p1-session-get',
  title: 'P1  GET /v1/sessions/:id — full app vs bare Fastify (autocannon)',
  run,
};
