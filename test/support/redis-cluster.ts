import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster } from 'ioredis';
import { REDIS_HOST } from './redis';

const run = promisify(execFile);

export interface ClusterNode {
  port: number;
  /** The node's id in CLUSTER NODES. */
  id: string;
  role: 'master' | 'slave';
  /** A primary's slot ranges. */
  slots: [number, number][];
  /** A replica's primary. */
  primaryId: string | null;
}

/**
 * A throwaway Redis Cluster on loopback: 3 primaries and 3 replicas (redis-server
 * --cluster-enabled, then redis-cli --cluster create --cluster-replicas 1), in its own temp
 * directory (configs, pid files, logs), removed again by stop(). A short node timeout makes a
 * replica take over about two seconds after its primary dies.
 */
export class RedisClusterProcess {
  readonly ports: number[];
  private readonly dir = mkdtempSync(join(tmpdir(), 'riptide-cluster-'));
  private readonly stopped = new Set<number>();

  constructor(basePort: number) {
    this.ports = Array.from({ length: 6 }, (_, i) => basePort + i);
  }

  /** "host:port" of every node, as REDIS_CLUSTER_NODES takes them. */
  get seeds(): string[] {
    return this.ports.map((port) => `${REDIS_HOST}:${port}`);
  }

  async start(): Promise<void> {
    for (const port of this.ports) {
      await run('redis-server', [
        '--port', String(port),
        '--bind', REDIS_HOST,
        '--cluster-enabled', 'yes',
        '--cluster-config-file', join(this.dir, `nodes-${port}.conf`),
        '--cluster-node-timeout', '1000',
        // A replica takes over from a killed primary however long ago it last heard from it: with
        // the default factor (10), a replica whose link was slow to come up after the cluster's
        // creation may judge its data too old and never fail over (seen once in CI: no failover
        // within 60 s).
        '--cluster-replica-validity-factor', '0',
        // A replica's first sync starts at once, not after the default 5 s wait for more replicas:
        // until it has synced the replica holds nothing, and a primary killed meanwhile hands its
        // slots to an empty node (a test run alone lost every session of those slots: 404s).
        '--repl-diskless-sync-delay', '0',
        '--save', '',
        '--appendonly', 'no',
        '--dir', this.dir,
        '--pidfile', this.pidFile(port),
        '--logfile', join(this.dir, `redis-${port}.log`),
        '--daemonize', 'yes',
      ]);
    }
    for (const port of this.ports) await this.waitFor(port, ['PING'], (answer) => /PONG/.test(answer), 5000);
    await run('redis-cli', ['--cluster', 'create', ...this.seeds, '--cluster-replicas', '1', '--cluster-yes']);
    await this.waitUntilHealthy(20_000);
    for (const replica of (await this.nodes()).filter((n) => n.role === 'slave')) {
      await this.waitFor(replica.port, ['INFO', 'replication'], (info) => /master_link_status:up/.test(info), 20_000);
    }
  }

  /**
   * Waits until the replica of the primary on `port` has acknowledged every write that primary
   * had taken when this was called. Redis replicates asynchronously, so a write acknowledged
   * just before its primary dies can be lost in the failover: that is Redis's behaviour, which
   * a test of the API's own must rule out before it kills a primary.
   */
  async waitReplicated(port: number, timeoutMs = 10_000): Promise<void> {
    const offset = (info: string, pattern: RegExp): number => Number(pattern.exec(info)?.[1] ?? -1);
    const written = offset(await this.cliOut(port, 'INFO', 'replication'), /master_repl_offset:(\d+)/);
    const acknowledged = (info: string): boolean => offset(info, /^slave\d+:.*state=online,offset=(\d+)/m) >= written;
    await this.waitFor(port, ['INFO', 'replication'], acknowledged, timeoutMs);
  }

  /** Every node alive says cluster_state:ok and every slot is served by a primary that is up. */
  async waitUntilHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(this.livePorts().map((port) => this.cliOut(port, 'CLUSTER', 'INFO').catch(() => '')));
      const ok = states.every((info) => /cluster_state:ok/.test(info) && /cluster_slots_ok:16384/.test(info));
      if (ok && (await this.nodes()).filter((n) => n.role === 'master' && !this.stopped.has(n.port)).length === 3) return;
      if (Date.now() > deadline) throw new Error(`redis cluster not healthy after ${timeoutMs} ms: ${states.join(' | ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The cluster's view of its nodes, from a live node. */
  async nodes(): Promise<ClusterNode[]> {
    const text = await this.cliOut(this.livePorts()[0], 'CLUSTER', 'NODES');
    return text
      .trim()
      .split('\n')
      .filter((line) => !/\bfail\b|noaddr/.test(line.split(' ')[2]))
      .map((line) => {
        const [id, address, flags, primaryId, , , , , ...slots] = line.split(' ');
        return {
          id,
          port: Number(/:(\d+)@/.exec(address)![1]),
          role: flags.includes('master') ? 'master' : 'slave',
          primaryId: primaryId === '-' ? null : primaryId,
          slots: slots.filter((s) => /^\d/.test(s)).map((s) => s.split('-').map(Number) as [number, number]).map(([a, b]) => [a, b ?? a]),
        } as ClusterNode;
      });
  }

  /** The primary serving `slot`. */
  async primaryOf(slot: number): Promise<ClusterNode> {
    const primary = (await this.nodes()).find((n) => n.role === 'master' && n.slots.some(([a, b]) => slot >= a && slot <= b));
    if (!primary) throw new Error(`no primary serves slot ${slot}`);
    return primary;
  }

  async keySlot(key: string): Promise<number> {
    return Number((await this.cliOut(this.livePorts()[0], 'CLUSTER', 'KEYSLOT', key)).trim());
  }

  /** SIGKILL: the node vanishes the way a crashed machine does. */
  kill(port: number): void {
    process.kill(this.pid(port), 'SIGKILL');
    this.stopped.add(port);
  }

  /** Deletes every key under `prefix`, node by node (SCAN, one UNLINK per key: keys differ in slot). */
  async deleteKeys(prefix: string): Promise<void> {
    const cluster = this.client();
    try {
      // Its node list is known once it is ready.
      await new Promise((resolve, reject) => cluster.once('ready', resolve).once('error', reject));
      await Promise.all(
        cluster.nodes('master').map(async (node) => {
          let cursor = '0';
          do {
            const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
            // Through the cluster client, not the node: right after a failover a node listed as a
            // primary may already be a replica, which answers MOVED to a write.
            await Promise.all(keys.map((key) => cluster.unlink(key)));
            cursor = next;
          } while (cursor !== '0');
        }),
      );
    } finally {
      cluster.disconnect();
    }
  }

  /** A plain cluster client for test inspection. */
  client(): Cluster {
    return new Cluster(this.seeds.map((seed) => ({ host: REDIS_HOST, port: Number(seed.split(':')[1]) })), {
      slotsRefreshInterval: 1000,
    });
  }

  /** Kills every node still running (SIGKILL: nothing is kept) and removes the temp directory. */
  async stop(): Promise<void> {
    for (const port of this.livePorts()) {
      try {
        this.kill(port);
      } catch {
        // not running (it failed to start, or died): nothing to stop
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private livePorts(): number[] {
    return this.ports.filter((port) => !this.stopped.has(port));
  }

  private pidFile(port: number): string {
    return join(this.dir, `redis-${port}.pid`);
  }

  private pid(port: number): number {
    return Number(readFileSync(this.pidFile(port), 'utf8').trim());
  }

  private async cliOut(port: number, ...command: string[]): Promise<string> {
    return (await run('redis-cli', ['-h', REDIS_HOST, '-p', String(port), ...command])).stdout;
  }

  /** Retries `command` until its answer passes `ok` (a node just started may not answer yet). */
  private async waitFor(port: number, command: string[], ok: (answer: string) => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ok(await this.cliOut(port, ...command).catch(() => ''))) {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port}: ${command.join(' ')} did not answer as expected within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
