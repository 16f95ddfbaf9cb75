#!/usr/bin/env node
'use strict';
/**
 * Diagnostic for a P1 miss (not part of `npm run bench`): where the full app's per-request
 * time goes. Serves GET /v1/sessions/:id from the app with layers removed (p1-app.js) and
 * from bare Fastify, same pinning as run.js (this process on CPU 0, servers on CPU 1),
 * LOG_LEVEL=warn, two passes in opposite orders; prints req/s per variant and its ratio to
 * bare. Run `npm run build` first, then `node bench/analysis/p1-layers.js` (about 2 minutes).
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const proc = require('../lib/proc');
const { measure } = require('../lib/load');

const VARIANTS = [
  ['nest core (no pino, pipe, onSend)', 'nopino,nopipe,noonsend'],
  ['+ ValidationPipe, onSend hook', 'nopino'],
  ['+ no-op Nest middleware (middie)', 'nopino,mw'],
  ['+ AsyncLocalStorage.run middleware', 'nopino,als'],
  ['full app (nestjs-pino as configured)', ''],
  ['full app, pino-http quiet loggers', 'quiet'],
];
const LOAD = { connections: 50, pipelining: 1, warmupSeconds: 1, durationSeconds: 5 };

if (!process.env.BENCH_LOADER_PINNED && proc.canPin()) {
  const r = spawnSync('taskset', ['-c', String(proc.LOADER_CPU), process.execPath, __filename], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_LOADER_PINNED: '1' },
  });
  process.exit(r.status ?? 1);
}

async function startVariant(flags, tmpDir) {
  const port = await proc.freePort();
  const child = proc.spawnNode({
    args: [path.join(__dirname, 'p1-app.js')],
    logFile: path.join(tmpDir, `variant-${flags || 'full'}.log`),
    env: { PORT: String(port), HOST: proc.LOOPBACK, LOG_LEVEL: 'warn', API_KEYS: '', HEADLESS_URLS: `http://${proc.LOOPBACK}:${await proc.freePort()}`, VARIANT: flags },
  });
  await proc.waitForPort(port, { child, timeoutMs: 30000 });
  const base = `http://${proc.LOOPBACK}:${port}`;
  const created = await (await fetch(`${base}/v1/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json();
  const url = `${base}/v1/sessions/${created.session_id}`;
  return { child, url, body: await (await fetch(url)).text() };
}

async function main() {
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'riptide-p1-layers-'));
  const results = new Map();
  const record = (name, r) => results.set(name, [...(results.get(name) ?? []), r]);
  try {
    const first = await startVariant('', tmpDir);
    const bodyFile = path.join(tmpDir, 'body.json');
    fs.writeFileSync(bodyFile, first.body);
    await proc.stop(first.child);
    const barePort = await proc.freePort();
    const bare = proc.spawnNode({ args: [path.join(__dirname, '..', 'servers', 'bare-fastify.js')], env: { PORT: String(barePort), BARE_BODY_FILE: bodyFile } });
    await proc.waitForPort(barePort, { child: bare });
    const bareUrl = `http://${proc.LOOPBACK}:${barePort}/v1/sessions/x`;

    for (const order of [VARIANTS, [...VARIANTS].reverse()]) {
      record('bare Fastify', await measure(bareUrl, { ...LOAD, serverPid: bare.pid }));
      for (const [name, flags] of order) {
        const v = await startVariant(flags, tmpDir);
        record(name, await measure(v.url, { ...LOAD, serverPid: v.child.pid }));
        await proc.stop(v.child);
      }
    }
    record('bare Fastify', await measure(bareUrl, { ...LOAD, serverPid: bare.pid }));
    await proc.stop(bare);
  } finally {
    proc.killAll();
    fs.rmSync(tmpDir, { recursive: true, force: true });
  }
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const bareRps = mean(results.get('bare Fastify').map((r) => r.req_per_s));
  console.log(`\nLOG_LEVEL=warn, ${LOAD.connections} connections, ${LOAD.durationSeconds} s per run; mean of the runs`);
  for (const [name, runs] of results) {
    const rps = mean(runs.map((r) => r.req_per_s));
    const wait = mean(runs.map((r) => r.server_wait_share ?? 0));
    console.log(`  ${name.padEnd(40)} ${rps.toFixed(0).padStart(7)} req/s  ${(rps / bareRps).toFixed(2)} of bare  (runs: ${runs.map((r) => r.req_per_s.toFixed(0)).join(', ')}; core waited ${(wait * 100).toFixed(0)}%)`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
