'use strict';
/** Figures with targets, the console table, and bench/results.json. */
const fs = require('node:fs');
const os = require('node:os');
const { spawnSync } = require('node:child_process');

const OPS = {
  '>=': (v, t) => v >= t,
  '<=': (v, t) => v <= t,
  '==': (v, t) => v === t,
};

/**
 * One reported number. With a `target` ({ op, value }) it gets a status PASS or MISS;
 * without, it is informational (status INFO). A missing value (null/NaN) is an ERROR.
 */
function figure(id, label, value, unit, target = null, note = undefined) {
  let status = 'INFO';
  if (typeof value !== 'number' || !Number.isFinite(value)) status = 'ERROR';
  else if (target) status = OPS[target.op](value, target.value) ? 'PASS' : 'MISS';
  return { id, label, value: value ?? null, unit, target, status, ...(note ? { note } : {}) };
}

function fmt(value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  return value.toLocaleString('en-US', { maximumFractionDigits: Math.abs(value) >= 100 ? 1 : 3 });
}

function printFigures(title, figures, log = console.log) {
  log(`\n== ${title}`);
  const width = Math.max(...figures.map((f) => f.label.length));
  for (const f of figures) {
    const value = `${fmt(f.value)} ${f.unit}`.trim();
    const target = f.target ? `target ${f.target.op} ${fmt(f.target.value)} ${f.unit}`.trim() : '';
    const status = f.status === 'INFO' ? '' : f.status;
    log(`  ${f.label.padEnd(width)}  ${value.padStart(16)}   ${target.padEnd(28)} ${status}`.trimEnd());
    if (f.note) log(`  ${''.padEnd(width)}  (${f.note})`);
  }
}

function gitRevision(cwd) {
  const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' });
  if (rev.status !== 0) return null;
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8' });
  return rev.stdout.trim() + (dirty.stdout.trim() ? '+dirty' : '');
}

function environment(root) {
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model ?? null,
    total_mem_mb: Math.round(os.totalmem() / 2 ** 20),
    loadavg_at_start: os.loadavg().map((x) => Number(x.toFixed(2))),
    git: gitRevision(root),
  };
}

/**
 * Writes results.json: this run's benchmarks replace their earlier entries, the others (from
 * an earlier run of a subset, e.g. `npm run bench -- p3`) are kept with their own timestamps.
 */
function writeResults(file, run, benchmarks) {
  let previous = {};
  try {
    previous = JSON.parse(fs.readFileSync(file, 'utf8')).benchmarks ?? {};
  } catch {
    /* first run */
  }
  const merged = { ...run, benchmarks: { ...previous, ...benchmarks } };
  fs.writeFileSync(file, `${JSON.stringify(merged, null, 2)}\n`);
  return merged;
}

module.exports = { figure, fmt, printFigures, environment, writeResults };
