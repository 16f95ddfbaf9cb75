#!/usr/bin/env node
'use strict';
/**
 * Runs the benchmarks and writes bench/results.json. `npm run bench` (builds first), or
 * `node bench/run.js [p1 p3 …]` for a subset (the other entries of results.json are kept).
 *
 * Pinning: this process re-executes itself under `taskset -c 0`; it is the load generator
 * (autocannon runs in it). Every server and measurement child is started with
 * `taskset -c 1 node …`. Without taskset or a second core it runs unpinned and says so.
 *
 * A figure that misses its target is printed as MISS and recorded; the exit code stays 0.
 * Only a benchmark that could not run (an exception) makes the exit code 1.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const proc = require('./lib/proc');
const { printFigures, environment, writeResults } = require('./lib/report');

/** The benchmarks, in run order. A new one is a module exporting { id, title, run(ctx) }. */
const BENCHES = ['./p1-session-get', './p2-render-overhead', './p3-memory', './p4-sweep', './p6-warm-cold', './p7-cdp', './p8-redis-cluster', './p9-playwright', './p10-saved-state', './p11-idle-cost'];

const ROOT = path.resolve(__dirname, '..');
const RESULTS = path.join(__dirname, 'results.json');

/**
 * Re-executes this script pinned to the loader core, and on BENCH_NODE when that names another
 * Node binary: every server and baseline is started with this process's Node (process.execPath),
 * so BENCH_NODE measures the whole run on, say, Node 24, the production image's, while npm and
 * the machine's default stay on another.
 */
function reexec() {
  const node = process.env.BENCH_NODE ? fs.realpathSync(process.env.BENCH_NODE) : process.execPath;
  const pin = !process.env.BENCH_LOADER_PINNED && proc.canPin();
  if (!pin && node === process.execPath) return;
  const args = [node, __filename, ...process.argv.slice(2)];
  const result = pin
    ? spawnSync('taskset', ['-c', String(proc.LOADER_CPU), ...args], { stdio: 'inherit', env: { ...process.env, BENCH_LOADER_PINNED: '1' } })
    : spawnSync(args[0], args.slice(1), { stdio: 'inherit' });
  if (result.error) throw new Error(`could not run ${node}: ${result.error.message}`);
  process.exit(result.status ?? 1);
}

async function main() {
  reexec();
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const benches = BENCHES.map((m) => require(m)).filter((b) => wanted.length === 0 || wanted.some((w) => b.id.startsWith(w)));
  if (benches.length === 0) throw new Error(`no benchmark matches ${wanted.join(', ')}`);
  if (!fs.existsSync(path.join(ROOT, 'dist', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` first (npm run bench does)');

  const pinning = proc.canPin()
    ? { loader_cpu: proc.LOADER_CPU, server_cpu: proc.SERVER_CPU, loader_cpus_allowed: proc.cpusAllowed() }
    : { loader_cpu: null, server_cpu: null, note: 'taskset or a second core unavailable: NOT pinned' };
  const env = environment(ROOT);
  console.log(`riptide-api benchmarks — node ${env.node}, ${env.cpus} CPUs (${env.cpu_model}), git ${env.git}`);
  console.log(
    pinning.loader_cpu === null
      ? `pinning: ${pinning.note}`
      : `pinning: orchestrator/autocannon on CPU ${pinning.loader_cpu} (allowed: ${pinning.loader_cpus_allowed}), servers and measurement children on CPU ${pinning.server_cpu} (taskset)`,
  );
  console.log(`load average at start: ${env.loadavg_at_start.join(' ')}`);

  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'riptide-bench-'));
  const log = (line) => console.log(line);
  const results = {};
  let failed = 0;
  const t0 = Date.now();
  try {
    for (const bench of benches) {
      console.log(`\n## ${bench.title}`);
      const started = new Date();
      try {
        const r = await bench.run({ log, tmpDir });
        for (const w of r.warnings ?? []) console.log(`  WARNING: ${w}`);
        results[bench.id] = {
          title: bench.title,
          started_at: started.toISOString(),
          seconds: Math.round((Date.now() - started.getTime()) / 100) / 10,
          figures: r.figures,
          warnings: r.warnings ?? [],
          details: r.details,
        };
      } catch (err) {
        failed++;
        console.log(`  ERROR: ${err.stack ?? err}`);
        results[bench.id] = { title: bench.title, started_at: started.toISOString(), error: String(err.message ?? err), figures: [] };
      }
    }
  } finally {
    if (!process.env.BENCH_KEEP_TMP) fs.rmSync(tmpDir, { recursive: true, force: true });
  }

  console.log(`\n================ summary (${Math.round((Date.now() - t0) / 1000)} s) ================`);
  for (const [id, r] of Object.entries(results)) {
    if (r.error) console.log(`\n== ${r.title}\n  ERROR: ${r.error}`);
    else printFigures(r.title, r.figures);
    for (const w of r.warnings ?? []) console.log(`  WARNING: ${w}`);
  }
  const all = Object.values(results).flatMap((r) => r.figures);
  const count = (s) => all.filter((f) => f.status === s).length;
  console.log(`\nPASS ${count('PASS')}  MISS ${count('MISS')}  ERROR ${count('ERROR') + failed}`);

  writeResults(RESULTS, { generated_at: new Date().toISOString(), environment: env, pinning }, results);
  console.log(`figures written to ${path.relative(process.cwd(), RESULTS) || RESULTS}`);
  return failed > 0 ? 1 : 0;
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    proc.killAll();
    process.exit(130);
  });
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`bench: ${err.message ?? err}`);
    process.exit(1);
  },
);
