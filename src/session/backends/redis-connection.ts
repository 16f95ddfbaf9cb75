import { Cluster, Redis, RedisOptions } from 'ioredis';

/** How the API's Redis users (the session backend, the CDP locks) reach Redis: one node or a Cluster. */
export interface RedisConnectionOptions {
  url: string;
  /** Redis Cluster seed nodes ("host:port"): cluster mode. Their addresses win over url's host. */
  clusterNodes?: string[];
  connectTimeoutMs: number;
  commandTimeoutMs?: number;
  maxReconnectDelayMs?: number;
  connectionName: string;
}

/**
 * A plain client, or with clusterNodes a Cluster client: the url then gives only credentials
 * and TLS. Either way no offline queue and no resending of a command that may have run.
 */
export function connectRedis(options: RedisConnectionOptions): Redis | Cluster {
  const connectTimeoutMs = options.connectTimeoutMs;
  const maxDelay = options.maxReconnectDelayMs ?? 1000;
  const retryStrategy = (attempt: number): number => Math.min(50 * 2 ** Math.min(attempt, 10), maxDelay);
  const common: RedisOptions = {
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: options.commandTimeoutMs ?? 2000,
    connectTimeout: connectTimeoutMs,
    connectionName: options.connectionName,
  };
  if (!options.clusterNodes || options.clusterNodes.length === 0) {
    return new Redis(options.url, { ...common, enableOfflineQueue: false, retryStrategy });
  }
  const url = new URL(options.url);
  return new Cluster(options.clusterNodes.map(hostPort), {
    // Needed while a node's connection is still being made (commands would be refused as
    // "Connection is closed" otherwise); call() refuses at once while the cluster is not ready.
    enableOfflineQueue: true,
    // Every script writes, so each goes to its slot's primary; a replica's reads could be stale.
    scaleReads: 'master',
    clusterRetryStrategy: retryStrategy,
    // A command whose connection closed may have run: never resend it (a reservation must not
    // count twice). CLUSTERDOWN, TRYAGAIN and MOVED mean it did not run: those are retried.
    retryDelayOnFailover: 0,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    // After a failover the new primary is found by this refresh (the old one's slots answer 503 until then).
    slotsRefreshInterval: 1000,
    slotsRefreshTimeout: connectTimeoutMs,
    redisOptions: {
      ...common,
      ...(url.username && { username: decodeURIComponent(url.username) }),
      ...(url.password && { password: decodeURIComponent(url.password) }),
      ...(url.protocol === 'rediss:' && { tls: {} }),
    },
  });
}

function hostPort(node: string): { host: string; port: number } {
  const match = /^(.+):(\d{1,5})$/.exec(node);
  if (!match) throw new Error(`redis cluster node '${node}' is not host:port`);
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port: Number(match[2]) };
}
