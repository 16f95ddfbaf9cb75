import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  validateSync,
  ValidationError,
} from 'class-validator';
import { parse as parseYaml } from 'yaml';
import { IsAllowList, IsDnsServers, IsUpstreamProxyUrl } from '../egress/config-validators';
import { MIN_TOKEN_LENGTH } from '../renderer-rpc/renderer-token';

const toList = ({ value }: { value: unknown }): unknown => {
  if (value === null || value === undefined || value === '') return [];
  if (Array.isArray(value)) return value.map((v) => String(v).trim()).filter(Boolean);
  if (typeof value === 'string') return value.split(',').map((v) => v.trim()).filter(Boolean);
  return value;
};
const toInt = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
const toBool = ({ value }: { value: unknown }): unknown => {
  if (typeof value !== 'string') return value;
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off', ''].includes(v)) return false;
  return value;
};

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * The one configuration object. Property names are the YAML keys (snake_case) so that the
 * key, its environment variable and the message naming a bad value are the same word.
 */
export class AppConfig {
  @Transform(toInt) @IsInt() @Min(0) @Max(65535) port: number;
  @IsString() host: string;
  @Transform(toInt) @IsInt() @Min(1024) body_limit_bytes: number;
  @Transform(toInt) @IsInt() @Min(100) @Max(600_000) http_headers_timeout_ms: number;
  @Transform(toInt) @IsInt() @Min(100) @Max(3_600_000) http_request_timeout_ms: number;

  @IsIn(['memory', 'redis']) session_backend: 'memory' | 'redis';
  @Matches(/^rediss?:\/\//, { message: 'must be a redis:// or rediss:// URL' }) redis_url: string;
  /** Redis Cluster seed nodes: cluster mode (their addresses win over redis_url's host). */
  @Transform(toList)
  @Matches(/^[^\s:/]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/, { each: true, message: 'each entry must be host:port' })
  redis_cluster_nodes: string[];
  @Transform(toInt) @IsInt() @Min(1) @Max(31_536_000) session_default_ttl_seconds: number;
  @Transform(toInt) @IsInt() @Min(1) session_cleanup_interval_seconds: number;
  @Transform(toInt) @IsInt() @Min(1) session_max_sessions: number;
  @Transform(toInt) @IsInt() @Min(1) session_max_per_tenant: number;
  @Transform(toInt) @IsInt() @Min(0) session_max_storage_state_bytes: number;
  @Transform(toInt) @IsInt() @Min(0) session_max_bytes_per_tenant: number;

  @Transform(toList)
  @IsUrl({ require_tld: false, protocols: ['http', 'https'], require_protocol: true }, { each: true })
  headless_urls: string[];
  @Transform(toInt) @IsInt() @Min(0) @Max(65535) headless_port: number;
  @IsString() headless_host: string;
  @IsString() chromium_path: string;
  @Transform(toInt) @IsInt() @Min(1) @Max(256) headless_max_concurrency: number;
  @Transform(toInt) @IsInt() @Min(0) headless_max_queue: number;
  @Transform(toInt) @IsInt() @Min(1) headless_max_contexts: number;
  @Transform(toInt) @IsInt() @Min(1) headless_context_idle_seconds: number;
  /** A frozen session tab whose session has not rendered this long has its page unloaded (0: at once). */
  @Transform(toInt) @IsInt() @Min(0) headless_unload_after_seconds: number;

  /** API → renderer bearer token; the API's embedded renderer makes a random one when empty. */
  @Matches(new RegExp(`^(|\\S{${MIN_TOKEN_LENGTH},})$`), { message: `must be at least ${MIN_TOKEN_LENGTH} characters without spaces` })
  headless_token: string;

  @Transform(toInt) @IsInt() @Min(100) render_timeout_ms: number;
  @Transform(toInt) @IsInt() @Min(0) render_max_concurrent_per_tenant: number;
  @Transform(toInt) @IsInt() @Min(1024) render_max_html_bytes: number;
  @Transform(toInt) @IsInt() @Min(1024) render_max_response_bytes: number;
  @Transform(toInt) @IsInt() @Min(100) @Max(1_000_000) render_max_screenshot_height_px: number;
  /** Hosts, addresses and CIDR ranges exempt from the egress policy (its only way around). */
  @Transform(toList) @IsAllowList() render_allowed_hosts: string[];
  /** Resolvers of the egress layer, `ip[:port]`; empty: the system's. */
  @Transform(toList) @IsDnsServers() render_dns_servers: string[];
  /** Default upstream proxy for renders whose session names none; set by the operator, so trusted. */
  @IsUpstreamProxyUrl() render_upstream_proxy: string;

  /** A CDP connection with no client message for this long is closed (pings do not count). */
  @Transform(toInt) @IsInt() @Min(1) @Max(86_400) cdp_idle_seconds: number;
  /** No CDP connection lasts longer than this. */
  @Transform(toInt) @IsInt() @Min(1) @Max(86_400) cdp_max_seconds: number;
  /** CDP connections (a browser each) per renderer; beyond, 503 + Retry-After. */
  @Transform(toInt) @IsInt() @Min(1) @Max(256) cdp_max_connections: number;

  @Transform(toList)
  @Matches(/^[^:\s]{8,}:[A-Za-z0-9._-]{1,64}$/, {
    each: true,
    message: 'each entry must be "key:tenant" (key at least 8 characters)',
  })
  api_keys: string[];
  @Transform(toBool) @IsBoolean() metrics_require_key: boolean;
  @IsIn(LOG_LEVELS) log_level: (typeof LOG_LEVELS)[number];
}

export class ConfigError extends Error {}

/** The renderer never runs unauthenticated: a standalone one, or an API using external ones, needs the token. */
export function requireHeadlessToken(config: AppConfig, why: string): void {
  if (!config.headless_token) throw new ConfigError(`config error: HEADLESS_TOKEN (headless_token) is required ${why}`);
}

export interface LoadConfigOptions {
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Defaults to config/default.yaml at the repository root. */
  file?: string;
  /** Applied last: lets tests set values without touching the environment. */
  overrides?: Partial<Record<keyof AppConfig, unknown>>;
}

const DEFAULT_FILE = join(__dirname, '..', '..', 'config', 'default.yaml');

/** Keys whose values are secrets (or may carry one, like a proxy URL's password): never echoed. */
const SECRET_KEYS = new Set<string>(['headless_token', 'render_upstream_proxy', 'api_keys']);

function explain(error: ValidationError): string {
  const key = error.property;
  const reasons = Object.values(error.constraints ?? {}).join('; ');
  const got = SECRET_KEYS.has(key) ? '' : `, got ${JSON.stringify(error.value)}`;
  return `config error: ${key.toUpperCase()} (${key}) ${reasons.replace(`${key} `, '')}${got}`;
}

/** Reads the YAML defaults, applies the environment and validates once. Throws ConfigError. */
export function loadConfig(options: LoadConfigOptions = {}): AppConfig {
  const env = options.env ?? process.env;
  const raw = (parseYaml(readFileSync(options.file ?? DEFAULT_FILE, 'utf8')) ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    const fromEnv = env[key.toUpperCase()];
    if (fromEnv !== undefined) raw[key] = fromEnv;
  }
  Object.assign(raw, options.overrides ?? {});

  const config = plainToInstance(AppConfig, raw);
  const errors = validateSync(config, { whitelist: true, forbidNonWhitelisted: true });
  if (errors.length > 0) throw new ConfigError(explain(errors[0]));
  if (config.http_headers_timeout_ms > config.http_request_timeout_ms) {
    // Node refuses a headers timeout longer than the request timeout.
    throw new ConfigError(
      `config error: HTTP_HEADERS_TIMEOUT_MS (http_headers_timeout_ms) must not exceed HTTP_REQUEST_TIMEOUT_MS, got ${config.http_headers_timeout_ms} > ${config.http_request_timeout_ms}`,
    );
  }
  if (!config.host) config.host = config.api_keys.length > 0 ? '0.0.0.0' : '127.0.0.1';
  return config;
}
