'use strict';
/**
 * Throwaway Redis servers on loopback for P8, in a temp directory removed by stop(): one
 * standalone node, and a Redis Cluster of 3 primaries + 3 replicas (the plain-JS equivalent of
 * test/support/redis-cluster.ts: `redis-server --cluster-enabled yes …`, then
 * `redis-cli --cluster create … --cluster-replicas 1 --cluster-yes`).
 *
 * The servers are started with `taskset -c <cpu>` when pinning is possible (P8 puts them on
 * the loader core, beside the static site: they are not what is measured).
 */
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { promisify } = require('node:util');
const proc = require('./proc');

const run = promisify(execFile);
const HOST = proc.LOOPBACK;

async function cli(port, ...args) {
  return (await run('redis-cli', ['-h', HOST, '-p', String(port), ...args])).stdout;
}

/** True when nothing listens on host:port (a connect is refused). */
function portFree(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: HOST });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

class RedisSet {
  constructor(name, ports, { cluster, cpu }) {
    this.name = name;
    this.ports = ports;
    this.cluster = cluster;
    this.cpu = cpu;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `riptide-bench-${name}-`));
  }

  pidFile(port) {
    return path.join(this.dir, `redis-${port}.pid`);
  }

  pid(port) {
    try {
      return Number(fs.readFileSync(this.pidFile(port), 'utf8').trim());
    } catch {
      return null;
    }
  }

  pids() {
    return this.ports.map((p) => this.pid(p)).filter((p) => p);
  }

  async start() {
    for (const port of this.ports) {
      // The cluster bus uses port + 10000.
      if (!(await portFree(port)) || (this.cluster && !(await portFree(port + 10000)))) {
        throw new Error(`loopback port ${port} (or its bus port) is in use: set P8_REDIS_PORT / P8_CLUSTER_PORT`);
      }
    }
    for (const port of this.ports) {
      const args = [
        '--port', String(port),
        '--bind', HOST,
        '--save', '',
        '--appendonly', 'no',
        '--dir', this.dir,
        '--pidfile', this.pidFile(port),
        '--logfile', path.join(this.dir, `redis-${port}.log`),
        '--daemonize', 'yes',
      ];
      if (this.cluster) {
        args.push('--cluster-enabled', 'yes', '--cluster-config-file', path.join(this.dir, `nodes-${port}.conf`), '--cluster-node-timeout', '1000');
      }
      const pinned = proc.canPin() && this.cpu !== null;
      if (pinned) await run('taskset', ['-c', String(this.cpu), 'redis-server', ...args]);
      else await run('redis-server', args);
    }
    for (const port of this.ports) await this.waitFor(port, ['PING'], /PONG/, 5000);
    if (this.cluster) {
      await run('redis-cli', ['--cluster', 'create', ...this.ports.map((p) => `${HOST}:${p}`), '--cluster-replicas', '1', '--cluster-yes']);
      const deadline = Date.now() + 20000;
      for (;;) {
        const states = await Promise.all(this.ports.map((p) => cli(p, 'CLUSTER', 'INFO').catch(() => '')));
        if (states.every((s) => /cluster_state:ok/.test(s) && /cluster_slots_ok:16384/.test(s)) && (await this.primaries()).length === 3) break;
        if (Date.now() > deadline) throw new Error(`redis cluster not healthy after 20 s: ${states.join(' | ')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      // Every replica has finished its initial sync, so no full resync runs during a measurement.
      for (const port of await this.replicas()) await this.waitFor(port, ['INFO', 'replication'], /master_link_status:up/, 20000);
    }
  }

  async waitFor(port, command, expected, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    while (!expected.test(await cli(port, ...command).catch(() => ''))) {
      if (Date.now() > deadline) throw new Error(`redis on ${port} did not answer ${command.join(' ')} with ${expected}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async roles() {
    return Promise.all(this.ports.map(async (port) => ({ port, role: /role:(\w+)/.exec(await cli(port, 'INFO', 'replication'))?.[1] })));
  }

  async primaries() {
    return (await this.roles()).filter((r) => r.role === 'master').map((r) => r.port);
  }

  async replicas() {
    return (await this.roles()).filter((r) => r.role === 'slave').map((r) => r.port);
  }

  /** Env for the API: REDIS_URL, and REDIS_CLUSTER_NODES for the cluster. */
  env() {
    const env = { SESSION_BACKEND: 'redis', REDIS_URL: `redis://${HOST}:${this.ports[0]}` };
    if (this.cluster) env.REDIS_CLUSTER_NODES = this.ports.map((p) => `${HOST}:${p}`).join(',');
    return env;
  }

  async resetStats() {
    await Promise.all(this.ports.map((p) => cli(p, 'CONFIG', 'RESETSTAT')));
  }

  /** `INFO commandstats` calls per command (lower case), per port. */
  async commandStats() {
    const out = {};
    for (const port of this.ports) {
      const text = await cli(port, 'INFO', 'commandstats');
      const calls = {};
      for (const [, cmd, n] of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[cmd] = Number(n);
      out[port] = calls;
    }
    return out;
  }

  /**
   * MONITOR on the given ports until the returned stop() (which resolves with the counts): each
   * command as the server executed it, split by who sent it — a client (one round trip each:
   * `[db ip:port]`) or a script (`[db lua]`, the commands a Lua script runs inside its one round
   * trip). INFO commandstats counts both; MONITOR tells them apart.
   */
  async monitor(ports = this.ports) {
    /** client: by command; script: run inside scripts, by command; evalsha: by script SHA1. */
    const counts = { client: {}, script: {}, evalsha: {} };
    const sockets = await Promise.all(
      ports.map(
        (port) =>
          new Promise((resolve, reject) => {
            const socket = net.connect({ port, host: HOST });
            let buffer = '';
            let ok = false;
            socket.setEncoding('utf8');
            socket.on('data', (chunk) => {
              buffer += chunk;
              let nl;
              while ((nl = buffer.indexOf('\r\n')) >= 0) {
                const line = buffer.slice(0, nl);
                buffer = buffer.slice(nl + 2);
                if (!ok && line === '+OK') {
                  ok = true;
                  resolve(socket);
                  continue;
                }
                const m = /^\+[\d.]+ \[\d+ ([^\]]+)\] "([^"]+)"(?: "([^"]+)")?/.exec(line);
                if (!m) continue;
                let cmd = m[2].toLowerCase();
                // Subcommands as commandstats names them (client|setname, cluster|slots).
                if ((cmd === 'client' || cmd === 'cluster' || cmd === 'config' || cmd === 'script') && m[3]) cmd = `${cmd}|${m[3].toLowerCase()}`;
                const by = m[1] === 'lua' ? counts.script : counts.client;
                by[cmd] = (by[cmd] ?? 0) + 1;
                if (m[1] !== 'lua' && cmd === 'evalsha' && m[3]) counts.evalsha[m[3]] = (counts.evalsha[m[3]] ?? 0) + 1;
              }
            });
            socket.once('error', reject);
            socket.write('MONITOR\r\n');
          }),
      ),
    );
    return async () => {
      // Lines still on their way.
      await new Promise((r) => setTimeout(r, 100));
      for (const socket of sockets) socket.destroy();
      return counts;
    };
  }

  /** CPU time (ms) of every server so far. */
  cpuMs() {
    return this.pids().reduce((sum, pid) => sum + (proc.processCpuMs(pid) ?? 0), 0);
  }

  /** SIGKILL every server (nothing is kept) and remove the temp directory. */
  async stop() {
    for (const pid of this.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* not running */
      }
    }
    if (!process.env.BENCH_KEEP_TMP) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

const standalone = (port, opts = {}) => new RedisSet('redis-single', [port], { cluster: false, cpu: opts.cpu ?? null });
const cluster = (basePort, opts = {}) =>
  new RedisSet('redis-cluster', Array.from({ length: 6 }, (_, i) => basePort + i), { cluster: true, cpu: opts.cpu ?? null });

module.exports = { standalone, cluster, cli };
