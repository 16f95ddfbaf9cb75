import 'reflect-metadata';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { VERSION_NEUTRAL } from '@nestjs/common';
import { PATH_METADATA, VERSION_METADATA } from '@nestjs/common/constants';
import { parse, parseAllDocuments } from 'yaml';
import { AppConfig, ConfigError, loadConfig } from '../src/config/app-config';
import { RenderController } from '../src/headless/render.controller';
import { HealthController } from '../src/health/health.controller';
import { METRICS_PATH } from '../src/metrics/metrics.controller';

/*
 * The deployment files (Dockerfile, compose.yaml, deploy/k8s) checked as files: containers cannot
 * run on these machines, so nothing here builds an image or starts a pod. What can be checked is
 * that they agree with the service: routes read from the controllers, ports and timeouts from
 * config/default.yaml through the app's own loadConfig, env names against the config keys.
 */

jest.setTimeout(30_000);

const ROOT = join(__dirname, '..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const run = promisify(execFile);

// ---- what the service says -----------------------------------------------------------------

const DEFAULTS = parse(read('config/default.yaml')) as Record<string, unknown>;
/** Every config key's environment variable (config/default.yaml keys, upper-cased). */
const CONFIG_VARS = new Set(Object.keys(DEFAULTS).map((key) => key.toUpperCase()));
/** Variables the deployment files may set that are not config keys, and why. */
const NON_CONFIG_VARS: Record<string, string> = {
  NODE_ENV: 'production mode for Node libraries (Dockerfile)',
  HOME: 'Chromium profile, cache and NSS db on a read-only root filesystem (renderer pods)',
};

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** `/health/live` etc., read from the Nest metadata of the controller and its handler. */
function routeOf(controller: object, handler: object): string {
  expect(Reflect.getMetadata(VERSION_METADATA, controller) ?? VERSION_NEUTRAL).toBe(VERSION_NEUTRAL);
  const parts = [Reflect.getMetadata(PATH_METADATA, controller), Reflect.getMetadata(PATH_METADATA, handler)] as string[];
  return `/${parts.map((p) => (p ?? '').replace(/^\/+|\/+$/g, '')).filter(Boolean).join('/')}`;
}
const LIVE = routeOf(HealthController, HealthController.prototype.live);
const READY = routeOf(HealthController, HealthController.prototype.ready);
const HEALTHZ = routeOf(RenderController, RenderController.prototype.healthz);

/** A module-private constant of the drain arithmetic, read from its source file. */
function sourceConstantMs(path: string, name: string): number {
  const found = new RegExp(`const ${name} = ([\\d_]+);`).exec(read(path));
  if (!found) throw new Error(`${name} not found in ${path}: the drain arithmetic below needs it`);
  return Number(found[1].replace(/_/g, ''));
}
/** Renderer: in-flight renders get render_timeout_ms + this after SIGTERM. */
const DRAIN_GRACE_MS = sourceConstantMs('src/headless/render.service.ts', 'DRAIN_GRACE_MS');
/** API: a render RPC waits at most render_timeout_ms + this. */
const RPC_MARGIN_MS = sourceConstantMs('src/render/rpc-client.service.ts', 'RPC_MARGIN_MS');
/** After the drain: closing the server, browser contexts and Chromium (or Redis), plus slack. */
const MIN_MARGIN_S = 5;

/** The config a process with this environment would run with (ConfigError if it would not start). */
function configFor(env: Record<string, string>): AppConfig {
  try {
    return loadConfig({ env });
  } catch (error) {
    if (error instanceof ConfigError) throw new Error(`${error.message} (env: ${Object.keys(env).join(', ')})`);
    throw error;
  }
}

/** The renderer token as the service reads it: its `headless_token` key (the raw variable until config/default.yaml has the key). */
function tokenOf(env: Record<string, string>): string | undefined {
  return CONFIG_VARS.has('HEADLESS_TOKEN') ? (configFor(env) as unknown as Json).headless_token : env.HEADLESS_TOKEN;
}

function expectKnownVars(names: Iterable<string>, where: string): void {
  const unknown = [...names].filter((name) => !CONFIG_VARS.has(name) && !(name in NON_CONFIG_VARS));
  expect({ where, unknown }).toEqual({ where, unknown: [] });
}

const pkg = JSON.parse(read('package.json')) as Json;
/** `node [flags] dist/main.js` and `node dist/headless/main.js`, as package.json starts them. */
const API_ENTRY = (pkg.scripts.start as string).split(/\s+/);
const RENDERER_ENTRY = (pkg.scripts['start:headless'] as string).split(/\s+/);

// ---- Dockerfile ------------------------------------------------------------------------------

interface Instruction {
  op: string;
  args: string;
  stage: number;
}

/** Instructions with continuations joined and comments dropped; `stage` counts FROMs from 0. */
function dockerInstructions(text: string): Instruction[] {
  const logical = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  const out: Instruction[] = [];
  let stage = -1;
  for (const line of logical.split('\n')) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = m[1].toUpperCase();
    if (op === 'FROM') stage += 1;
    out.push({ op, args: m[2].trim(), stage });
  }
  return out;
}

/** `["a", "b"]` (exec form) or `a b` (shell form) as a word list. */
const words = (args: string): string[] => (args.startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/));

describe('Dockerfile', () => {
  const text = read('Dockerfile');
  const all = dockerInstructions(text);
  const globalArgs = new Map(
    all
      .filter((i) => i.op === 'ARG' && i.stage === -1)
      .map((i) => i.args.split('=') as [string, string]),
  );
  const froms = all.filter((i) => i.op === 'FROM');
  const finalStage = froms.length - 1;
  const final = all.filter((i) => i.stage === finalStage);
  const imageOf = (from: Instruction): string =>
    from.args.split(/\s+/)[0].replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => globalArgs.get(a ?? b) ?? '');
  const stageNamed = (name: string): number => froms.findIndex((f) => new RegExp(`\\sAS\\s+${name}$`, 'i').test(f.args));
  const runs = (stage: number): string => all.filter((i) => i.stage === stage && i.op === 'RUN').map((i) => i.args).join('\n');

  it('is multi-stage on Node 24 LTS (Debian), every stage', () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) expect(imageOf(from)).toMatch(/^node:24([.-]|$).*bookworm/);
  });

  it('builds with the lock file and tsc in one stage, and ships only production dependencies', () => {
    const buildStage = all.find((i) => i.op === 'RUN' && /\bnpm run build\b/.test(i.args))?.stage ?? -1;
    expect(buildStage).toBeGreaterThanOrEqual(0);
    expect(buildStage).not.toBe(finalStage);
    expect(runs(buildStage)).toMatch(/\bnpm ci\b/);
    const copies = final.filter((i) => i.op === 'COPY').map((i) => i.args);
    const fromStage = (path: string): number => {
      const copy = copies.find((c) => new RegExp(`\\s/app/${path}\\s`).test(` ${c} `));
      const stage = /--from=(\S+)/.exec(copy ?? '')?.[1];
      return stage === undefined ? -1 : stageNamed(stage);
    };
    expect(fromStage('dist')).toBe(buildStage);
    const depsStage = fromStage('node_modules');
    expect(depsStage).toBeGreaterThanOrEqual(0);
    expect(runs(depsStage)).toMatch(/\bnpm ci\b[^\n]*--omit=dev/);
    // dist/config/app-config.js reads ../../config/default.yaml at start-up.
    expect(copies.some((c) => /^config\s/.test(c))).toBe(true);
  });

  it("installs Debian's chromium, fonts and an init with apt, and never downloads a browser", () => {
    const install = /apt-get install\b([^\n&|;]*)/.exec(runs(finalStage))?.[1] ?? '';
    const packages = install.split(/\s+/).filter((w) => w && !w.startsWith('-'));
    expect(packages).toContain('chromium');
    expect(packages.some((p) => p.startsWith('fonts-'))).toBe(true);
    expect(packages.some((p) => p === 'tini' || p === 'dumb-init')).toBe(true);
    const instructions = all.map((i) => `${i.op} ${i.args}`).join('\n');
    expect(instructions).not.toMatch(/playwright\S*\s+install|PLAYWRIGHT_BROWSERS_PATH|chrome-for-testing|google-chrome|\b(curl|wget)\b/i);
    // CHROMIUM_PATH points at that package's binary, the config default.
    const env = final.filter((i) => i.op === 'ENV').map((i) => i.args).join(' ');
    expect(/\bCHROMIUM_PATH=(\S+)/.exec(env)?.[1]).toBe(DEFAULTS.chromium_path);
    expect(DEFAULTS.chromium_path).toBe('/usr/bin/chromium');
  });

  it('sets only known environment variables', () => {
    const names = all.filter((i) => i.op === 'ENV').flatMap((i) => [...i.args.matchAll(/(?:^|\s)(\w+)=/g)].map((m) => m[1]));
    expect(names.length).toBeGreaterThan(0);
    expectKnownVars(names, 'Dockerfile ENV');
  });

  it('runs as a numeric non-root user, under an init as PID 1, the API by default', () => {
    const user = final.filter((i) => i.op === 'USER').pop()?.args ?? 'root';
    const [uid, gid] = user.split(':');
    expect(uid).toMatch(/^\d+$/); // runAsNonRoot can only verify a numeric user
    expect(Number(uid)).toBeGreaterThan(0);
    if (gid !== undefined) expect(Number(gid)).toBeGreaterThan(0);
    const entrypoint = words(final.filter((i) => i.op === 'ENTRYPOINT').pop()?.args ?? '[]');
    expect(entrypoint[0]).toMatch(/(^|\/)(tini|dumb-init)$/);
    expect(entrypoint).not.toContain('-g'); // Chromium must not get the SIGTERM meant for node's drain
    expect(words(final.filter((i) => i.op === 'CMD').pop()?.args ?? '[]')).toEqual(API_ENTRY);
    // Both entry points are compiled from src/ (tsconfig.build.json: rootDir src -> dist).
    for (const entry of [API_ENTRY.at(-1) as string, RENDERER_ENTRY.at(-1) as string]) {
      expect(existsSync(join(ROOT, entry.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts')))).toBe(true);
    }
  });

  it('has a HEALTHCHECK running the health check script the image copies', () => {
    const healthcheck = final.find((i) => i.op === 'HEALTHCHECK')?.args ?? '';
    const script = /CMD\s+(\[.*\])/.exec(healthcheck)?.[1];
    expect(script).toBeDefined();
    const [node, path] = words(script ?? '[]');
    expect(node).toBe('node');
    expect(existsSync(join(ROOT, path))).toBe(true);
    expect(final.some((i) => i.op === 'COPY' && i.args.split(/\s+/)[0] === path)).toBe(true);
  });

  it('keeps the host build outputs and CI files out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const path of ['node_modules', 'dist', '.git', '.ci']) expect(ignored).toContain(path);
  });
});

// ---- the image's health check script, run against stub servers on loopback -----------------

describe('deploy/docker/healthcheck.js', () => {
  const servers: Server[] = [];

  /** A loopback server answering 200 on `path` (or `status` there) and 404 elsewhere. */
  async function stub(path: string, status = 200): Promise<number> {
    const server = createServer((req, res) => {
      res.statusCode = req.url === path ? status : 404;
      res.end();
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  /** A loopback port nothing listens on. */
  async function closedPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  async function healthcheck(env: Record<string, number>): Promise<number> {
    const vars = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
    try {
      await run(process.execPath, ['deploy/docker/healthcheck.js'], { cwd: ROOT, env: { PATH: process.env.PATH, ...vars }, timeout: 10_000 });
      return 0;
    } catch (error) {
      return (error as { code?: number }).code ?? -1;
    }
  }

  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it("passes on the API's liveness route and fails when it does not answer 200", async () => {
    expect(await healthcheck({ PORT: await stub(LIVE), HEADLESS_PORT: await closedPort() })).toBe(0);
    expect(await healthcheck({ PORT: await stub(LIVE, 503), HEADLESS_PORT: await stub(HEALTHZ) })).toBe(1);
  });

  it("checks the renderer's /healthz when nothing listens on PORT (a renderer container)", async () => {
    expect(await healthcheck({ PORT: await closedPort(), HEADLESS_PORT: await stub(HEALTHZ) })).toBe(0);
    expect(await healthcheck({ PORT: await closedPort(), HEADLESS_PORT: await stub(HEALTHZ, 503) })).toBe(1);
    expect(await healthcheck({ PORT: await closedPort(), HEADLESS_PORT: await closedPort() })).toBe(1);
  });
});

// ---- compose.yaml ----------------------------------------------------------------------------

/** Values compose would interpolate from the operator's environment, for validating with loadConfig. */
const TEST_SECRETS: Record<string, string> = {
  HEADLESS_TOKEN: 'compose-test-token-0123456789abcdef0123456789abcdef',
  API_KEYS: 'compose-test-key-0123456789:default',
};
const INTERPOLATION = /\$\{(\w+)(?:(?::?[-?+])[^}]*)?\}/g;

describe('compose.yaml', () => {
  const compose = parse(read('compose.yaml'), { merge: true }) as Json;
  const services = compose.services as Record<string, Json>;
  const envOf = (name: string): Record<string, string> =>
    Object.fromEntries(Object.entries((services[name].environment ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
  const resolved = (env: Record<string, string>): Record<string, string> =>
    Object.fromEntries(
      Object.entries(env).map(([k, v]) => [k, v.replace(INTERPOLATION, (_, name: string) => TEST_SECRETS[name] ?? '')]),
    );
  const ours = Object.keys(services).filter((name) => services[name].build !== undefined);
  const renderers = ours.filter((name) => JSON.stringify(services[name].command) === JSON.stringify(RENDERER_ENTRY));
  const apis = ours.filter((name) => services[name].command === undefined); // the image's CMD: the API

  it('builds every riptide service from this Dockerfile: 2 renderers and 2 APIs', () => {
    expect(renderers).toHaveLength(2);
    expect(apis).toHaveLength(2);
    expect(ours.sort()).toEqual([...renderers, ...apis].sort());
  });

  it('uses only config keys (and known variables) as environment names, interpolations included', () => {
    for (const name of Object.keys(services)) {
      if (!ours.includes(name)) continue;
      const env = envOf(name);
      const interpolated = Object.values(env).flatMap((v) => [...v.matchAll(INTERPOLATION)].map((m) => m[1]));
      expectKnownVars([...Object.keys(env), ...interpolated], `compose service ${name}`);
    }
  });

  it('starts each with a configuration the service accepts', () => {
    for (const name of ours) expect(() => configFor(resolved(envOf(name)))).not.toThrow();
  });

  it('shares one HEADLESS_TOKEN, from the operator, between renderers and APIs', () => {
    const tokens = new Set([...renderers, ...apis].map((name) => envOf(name).HEADLESS_TOKEN));
    expect(tokens.size).toBe(1);
    const [token] = tokens;
    expect(token).toMatch(/^\$\{HEADLESS_TOKEN(:\?[^}]*)?\}$/); // required, never a literal in the file
    expect(envOf(apis[0]).API_KEYS).toMatch(/^\$\{API_KEYS(:\?[^}]*)?\}$/);
  });

  it('runs renderers reachable from the APIs, with room for Chromium in /dev/shm', () => {
    for (const name of renderers) {
      const config = configFor(resolved(envOf(name)));
      expect(config.headless_host).toBe('0.0.0.0');
      expect(tokenOf(resolved(envOf(name)))).toBe(TEST_SECRETS.HEADLESS_TOKEN);
      expect(String(services[name].shm_size)).toMatch(/^\d+(\.\d+)?\s*[gG]|^[1-9]\d{2,}\s*[mM]/);
    }
  });

  it('points both APIs at Redis and at both renderers', () => {
    for (const name of apis) {
      const config = configFor(resolved(envOf(name)));
      expect(config.session_backend).toBe('redis');
      expect(new URL(config.redis_url).hostname).toBe(Object.keys(services).find((s) => /redis/.test(String(services[s].image))));
      expect(config.api_keys.length).toBeGreaterThan(0); // else the API binds 127.0.0.1 inside its container
      const expected = renderers.map((r) => `http://${r}:${configFor(resolved(envOf(r))).headless_port}`);
      expect(config.headless_urls.map((u) => u.replace(/\/$/, '')).sort()).toEqual(expected.sort());
    }
  });

  it('gives renderers and APIs longer to stop than their drain can take (Docker kills after 10 s by default)', () => {
    const seconds = (duration: unknown): number => {
      const m = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(String(duration ?? '10s'));
      if (!m || (!m[1] && !m[2])) throw new Error(`stop_grace_period ${String(duration)}: not understood`);
      return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
    };
    for (const name of renderers) {
      const drain = Math.ceil((configFor(resolved(envOf(name))).render_timeout_ms + DRAIN_GRACE_MS) / 1000);
      expect({ name, grace: seconds(services[name].stop_grace_period) >= drain + MIN_MARGIN_S }).toEqual({ name, grace: true });
    }
    for (const name of apis) {
      const drain = Math.ceil((configFor(resolved(envOf(name))).render_timeout_ms + RPC_MARGIN_MS) / 1000);
      expect({ name, grace: seconds(services[name].stop_grace_period) >= drain + MIN_MARGIN_S }).toEqual({ name, grace: true });
    }
  });

  it('publishes ports on the host loopback only', () => {
    for (const service of Object.values(services)) {
      for (const port of (service.ports ?? []) as unknown[]) expect(String(port)).toMatch(/^127\.0\.0\.1:/);
    }
  });

  describe('Prometheus', () => {
    const name = Object.keys(services).find((s) => /prometheus/.test(String(services[s].image))) ?? '';
    const mounts = ((services[name]?.volumes ?? []) as string[]).map((v) => v.split(':'));
    const hostPathOf = (target: string): string | undefined => mounts.find(([, t]) => t === target)?.[0];
    const configPath = hostPathOf('/etc/prometheus/prometheus.yml') ?? '';
    const config = (configPath ? parse(read(configPath)) : {}) as Json;

    it('loads the shipped alert rules', () => {
      expect(name).not.toBe('');
      expect(config.rule_files).toContain('alerts.yml');
      expect(hostPathOf('/etc/prometheus/alerts.yml')?.replace(/^\.\//, '')).toBe('deploy/prometheus/alerts.yml');
    });

    it('scrapes both APIs on their port and metrics path', () => {
      const jobs = config.scrape_configs as Json[];
      const targets = jobs.flatMap((job) => (job.static_configs as Json[]).flatMap((s) => s.targets as string[]));
      const expected = apis.map((api) => `${api}:${configFor(resolved(envOf(api))).port}`);
      expect(targets.sort()).toEqual(expected.sort());
      for (const job of jobs) expect(job.metrics_path ?? '/metrics').toBe(METRICS_PATH);
    });

    const promtoolFound = spawnSync('promtool', ['--version']).status === 0;
    (promtoolFound || inCi() ? it : it.skip)('is a valid Prometheus configuration (promtool check config)', () => {
      const check = spawnSync('promtool', ['check', 'config', configPath], { cwd: ROOT, encoding: 'utf8' });
      if (check.error) throw new Error(`promtool not found: install the Debian "prometheus" package (${check.error.message})`);
      expect({ status: check.status, output: `${check.stdout}${check.stderr}` }).toMatchObject({ status: 0 });
    });
  });
});

function inCi(): boolean {
  return /^(1|true|yes)$/i.test(process.env.CI ?? '');
}

// ---- deploy/k8s ------------------------------------------------------------------------------

const KUBECTL = process.env.KUBECTL ?? 'kubectl';
const kubectlFound = spawnSync(KUBECTL, ['version', '--client'], { encoding: 'utf8' }).status === 0;
if (!kubectlFound && !inCi()) {
  process.stderr.write('deploy-files.e2e: kubectl not found, skipping the deploy/k8s checks (CI=true fails instead)\n');
}

/** An IPv4 or IPv6 CIDR as a number range. */
interface Cidr {
  v6: boolean;
  first: bigint;
  last: bigint;
}
function ipValue(address: string): { v6: boolean; value: bigint } {
  if (!address.includes(':')) {
    const octets = address.split('.').map(Number);
    if (octets.length !== 4 || octets.some((o) => !(o >= 0 && o <= 255))) throw new Error(`bad IPv4 address ${address}`);
    return { v6: false, value: octets.reduce((acc, o) => (acc << 8n) | BigInt(o), 0n) };
  }
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  if (groups.length !== 8) throw new Error(`bad IPv6 address ${address}`);
  return { v6: true, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) };
}
function cidr(text: string): Cidr {
  const [address, length] = text.split('/');
  const { v6, value } = ipValue(address);
  const hostBits = BigInt((v6 ? 128 : 32) - Number(length));
  const first = (value >> hostBits) << hostBits;
  return { v6, first, last: first + (1n << hostBits) - 1n };
}
const within = (inner: Cidr, outer: Cidr): boolean => inner.v6 === outer.v6 && inner.first >= outer.first && inner.last <= outer.last;
const overlap = (a: Cidr, b: Cidr): boolean => a.v6 === b.v6 && a.first <= b.last && b.first <= a.last;

/** The ranges no renderer may reach (the list); the policy may deny more. */
const RENDERER_DENIED = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '100.64.0.0/10', 'fc00::/7', 'fe80::/10'];

(kubectlFound || inCi() ? describe : describe.skip)('deploy/k8s (kubectl kustomize)', () => {
  let objects: Json[] = [];

  beforeAll(() => {
    const rendered = spawnSync(KUBECTL, ['kustomize', 'deploy/k8s'], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    if (rendered.error) throw new Error(`kubectl not found (${KUBECTL}): ${rendered.error.message}`);
    if (rendered.status !== 0) throw new Error(`kubectl kustomize deploy/k8s failed:\n${rendered.stderr}`);
    objects = parseAllDocuments(rendered.stdout).map((doc) => doc.toJS() as Json);
  });

  const all = (kind: string): Json[] => objects.filter((o) => o.kind === kind);
  const one = (kind: string, name: string): Json => {
    const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
    if (!found) throw new Error(`${kind}/${name} not in the rendered base`);
    return found;
  };
  const matches = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
    Object.entries(selector).every(([k, v]) => labels?.[k] === v);
  const workloads = (): Json[] => [...all('Deployment'), ...all('StatefulSet')];
  /** Containers running this repository's image. */
  const riptideContainers = (): Array<{ workload: Json; container: Json }> =>
    workloads().flatMap((workload) =>
      (workload.spec.template.spec.containers as Json[])
        .filter((container) => /(^|\/)riptide-api(:|@|$)/.test(container.image))
        .map((container) => ({ workload, container })),
    );
  const api = (): { workload: Json; container: Json } => {
    const found = riptideContainers().filter(({ container }) => !container.args && !container.command);
    expect(found).toHaveLength(1);
    return found[0];
  };
  const renderer = (): { workload: Json; container: Json } => {
    const found = riptideContainers().filter(({ container }) => JSON.stringify(container.args) === JSON.stringify(RENDERER_ENTRY));
    expect(found).toHaveLength(1);
    return found[0];
  };

  function secretValue(name: string, key: string): string {
    const secret = one('Secret', name);
    if (secret.stringData?.[key] !== undefined) return String(secret.stringData[key]);
    if (secret.data?.[key] !== undefined) return Buffer.from(String(secret.data[key]), 'base64').toString('utf8');
    throw new Error(`Secret ${name} has no key ${key}`);
  }
  /** The container's environment as Kubernetes would assemble it (every reference must resolve). */
  function envOf(container: Json): Record<string, string> {
    const env: Record<string, string> = {};
    for (const from of (container.envFrom ?? []) as Json[]) {
      if (from.configMapRef) Object.assign(env, one('ConfigMap', from.configMapRef.name).data);
      if (from.secretRef) {
        const secret = one('Secret', from.secretRef.name);
        for (const key of Object.keys({ ...secret.data, ...secret.stringData })) env[key] = secretValue(secret.metadata.name, key);
      }
    }
    for (const entry of (container.env ?? []) as Json[]) {
      if (entry.value !== undefined) env[entry.name] = String(entry.value);
      else if (entry.valueFrom?.secretKeyRef) env[entry.name] = secretValue(entry.valueFrom.secretKeyRef.name, entry.valueFrom.secretKeyRef.key);
      else if (entry.valueFrom?.configMapKeyRef) {
        const value = one('ConfigMap', entry.valueFrom.configMapKeyRef.name).data?.[entry.valueFrom.configMapKeyRef.key];
        if (value === undefined) throw new Error(`ConfigMap key ${entry.valueFrom.configMapKeyRef.key} missing`);
        env[entry.name] = String(value);
      } else throw new Error(`env ${entry.name}: unsupported source`);
    }
    return env;
  }
  /** A probe's or Service's port (a number or a container port name) as a number. */
  function portNumber(container: Json, port: number | string): number {
    if (typeof port === 'number') return port;
    const named = (container.ports as Json[]).find((p) => p.name === port);
    if (!named) throw new Error(`container ${container.name} has no port named ${port}`);
    return named.containerPort as number;
  }
  function expectProbes(container: Json, port: number, paths: { liveness: string; readiness: string; startup?: string }): void {
    for (const [kind, path] of Object.entries(paths)) {
      const probe = container[`${kind}Probe`] as Json | undefined;
      if (kind === 'startup' && probe === undefined) continue;
      expect({ kind, path: probe?.httpGet?.path, port: probe && portNumber(container, probe.httpGet.port) }).toEqual({ kind, path, port });
    }
  }
  function preStopSeconds(container: Json): number {
    const preStop = container.lifecycle?.preStop as Json | undefined;
    if (!preStop) return 0;
    if (preStop.sleep) return Number(preStop.sleep.seconds);
    const [cmd, seconds] = (preStop.exec?.command ?? []) as string[];
    if (cmd !== 'sleep') throw new Error(`preStop ${JSON.stringify(preStop)}: cannot tell how long it takes`);
    return Number(seconds);
  }

  it('renders a base with the API, the renderers, their Services, PDBs, Secret, ConfigMap and NetworkPolicies', () => {
    expect(objects.length).toBeGreaterThan(0);
    for (const kind of ['ConfigMap', 'Secret', 'Service', 'PodDisruptionBudget', 'NetworkPolicy']) expect(all(kind).length).toBeGreaterThan(0);
    expect(api().workload.kind).toBe('Deployment');
    expect(renderer().workload.kind).toBe('StatefulSet');
  });

  it('uses only config keys (and known variables) as environment names', () => {
    for (const cm of all('ConfigMap')) expectKnownVars(Object.keys(cm.data ?? {}), `ConfigMap ${cm.metadata.name}`);
    for (const s of all('Secret')) expectKnownVars(Object.keys({ ...s.data, ...s.stringData }), `Secret ${s.metadata.name}`);
    for (const { container } of riptideContainers()) expectKnownVars(Object.keys(envOf(container)), `container ${container.name}`);
  });

  it('gives every riptide container a configuration the service accepts', () => {
    for (const { container } of riptideContainers()) expect(() => configFor(envOf(container))).not.toThrow();
  });

  it('keeps API_KEYS and HEADLESS_TOKEN in a Secret (placeholders in the base), never in a ConfigMap', () => {
    for (const cm of all('ConfigMap')) {
      expect(Object.keys(cm.data ?? {})).not.toContain('API_KEYS');
      expect(Object.keys(cm.data ?? {})).not.toContain('HEADLESS_TOKEN');
    }
    const secretRef = (container: Json, name: string): Json | undefined =>
      (container.env as Json[] | undefined)?.find((e) => e.name === name)?.valueFrom?.secretKeyRef;
    const apiToken = secretRef(api().container, 'HEADLESS_TOKEN');
    expect(apiToken).toBeDefined();
    expect(secretRef(renderer().container, 'HEADLESS_TOKEN')).toEqual(apiToken);
    expect(secretRef(api().container, 'API_KEYS')).toBeDefined();
    expect(secretRef(renderer().container, 'API_KEYS')).toBeUndefined(); // the renderer has no use for them
    for (const ref of [apiToken, secretRef(api().container, 'API_KEYS')]) expect(secretValue(ref?.name, ref?.key)).toMatch(/REPLACE-ME/);
    const token = tokenOf(envOf(renderer().container));
    expect(token).toBeTruthy();
    expect(tokenOf(envOf(api().container))).toBe(token);
  });

  it('probes the API on its real routes and port, and lets Prometheus scrape it', () => {
    const { workload, container } = api();
    const config = configFor(envOf(container));
    expectProbes(container, config.port, { liveness: LIVE, readiness: READY, startup: LIVE });
    const annotations = workload.spec.template.metadata.annotations as Record<string, string>;
    expect(annotations['prometheus.io/scrape']).toBe('true');
    expect(Number(annotations['prometheus.io/port'])).toBe(config.port);
    expect(annotations['prometheus.io/path']).toBe(METRICS_PATH);
    expect(config.session_backend).toBe('redis');
    expect(config.api_keys.length).toBeGreaterThan(0); // else the API binds 127.0.0.1 and never gets ready
  });

  it('probes the renderer on /healthz at HEADLESS_PORT and runs it reachable, under the image init', () => {
    const { container } = renderer();
    const config = configFor(envOf(container));
    expectProbes(container, config.headless_port, { liveness: HEALTHZ, readiness: HEALTHZ, startup: HEALTHZ });
    expect(config.headless_host).toBe('0.0.0.0');
    expect(container.command).toBeUndefined(); // `command` would replace the ENTRYPOINT (tini)
  });

  it('has Services whose selectors and target ports reach the pods', () => {
    for (const { workload, container } of [api(), renderer()]) {
      const labels = workload.spec.template.metadata.labels as Record<string, string>;
      const services = all('Service').filter((s) => matches(s.spec.selector, labels));
      expect(services.length).toBeGreaterThan(0);
      for (const service of services) {
        for (const port of service.spec.ports as Json[]) {
          expect(portNumber(container, port.targetPort ?? port.port)).toBe(
            container === api().container ? configFor(envOf(container)).port : configFor(envOf(container)).headless_port,
          );
        }
      }
    }
  });

  it('lists every renderer pod by its stable DNS name in HEADLESS_URLS, and only those', () => {
    const { workload, container } = renderer();
    const headless = one('Service', workload.spec.serviceName);
    expect(headless.spec.clusterIP).toBe('None');
    expect(matches(headless.spec.selector, workload.spec.template.metadata.labels)).toBe(true);
    const port = configFor(envOf(container)).headless_port;
    const expected = Array.from({ length: workload.spec.replicas as number }, (_, i) => `http://${workload.metadata.name}-${i}.${headless.metadata.name}:${port}`);
    const urls = configFor(envOf(api().container)).headless_urls.map((u) => u.replace(/\/$/, ''));
    expect(urls.sort()).toEqual(expected.sort());
  });

  it('gives each pod longer to stop than its drain can take', () => {
    const { workload: rw, container: rc } = renderer();
    const rendererTimeout = configFor(envOf(rc)).render_timeout_ms;
    const rendererDrain = preStopSeconds(rc) + Math.ceil((rendererTimeout + DRAIN_GRACE_MS) / 1000);
    expect(rw.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(rendererDrain + MIN_MARGIN_S);
    // /healthz turns 503 while draining: liveness must not restart the renderer mid-drain.
    const liveness = rc.livenessProbe as Json;
    expect((liveness.periodSeconds ?? 10) * (liveness.failureThreshold ?? 3)).toBeGreaterThan(rendererDrain);

    const { workload: aw, container: ac } = api();
    const apiTimeout = configFor(envOf(ac)).render_timeout_ms;
    const apiDrain = preStopSeconds(ac) + Math.ceil((apiTimeout + RPC_MARGIN_MS) / 1000);
    expect(aw.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(apiDrain + MIN_MARGIN_S);
  });

  it('requests resources and runs every container non-root on a read-only root filesystem', () => {
    for (const workload of workloads()) {
      const pod = workload.spec.template.spec as Json;
      for (const container of pod.containers as Json[]) {
        const security = { ...pod.securityContext, ...container.securityContext } as Json;
        const where = `${workload.metadata.name}/${container.name}`;
        expect({ where, runAsNonRoot: security.runAsNonRoot }).toEqual({ where, runAsNonRoot: true });
        expect(security.runAsUser).toBeGreaterThan(0);
        expect({ where, ro: security.readOnlyRootFilesystem, esc: security.allowPrivilegeEscalation }).toEqual({ where, ro: true, esc: false });
        expect(container.resources?.requests?.cpu).toBeDefined();
        expect(container.resources?.requests?.memory).toBeDefined();
        expect(container.resources?.limits?.memory).toBeDefined();
      }
    }
  });

  it("gives Chromium a memory-backed /dev/shm and a writable /tmp", () => {
    const { workload, container } = renderer();
    const volumes = workload.spec.template.spec.volumes as Json[];
    const volumeAt = (path: string): Json | undefined => {
      const mount = (container.volumeMounts as Json[]).find((m) => m.mountPath === path);
      return volumes.find((v) => v.name === mount?.name);
    };
    expect(volumeAt('/dev/shm')?.emptyDir?.medium).toBe('Memory');
    expect(volumeAt('/tmp')?.emptyDir).toBeDefined();
    expect(envOf(container).HOME).toBe('/tmp'); // a writable HOME on the read-only root filesystem
  });

  it('has a PodDisruptionBudget for the API and one for the renderers', () => {
    for (const { workload } of [api(), renderer()]) {
      const pdbs = all('PodDisruptionBudget').filter((p) => matches(p.spec.selector.matchLabels, workload.spec.template.metadata.labels));
      expect({ workload: workload.metadata.name, pdbs: pdbs.length }).toEqual({ workload: workload.metadata.name, pdbs: 1 });
    }
  });

  describe('NetworkPolicy', () => {
    const selecting = (labels: Record<string, string>, type: string): Json[] =>
      all('NetworkPolicy').filter((p) => matches(p.spec.podSelector.matchLabels ?? {}, labels) && (p.spec.policyTypes as string[]).includes(type));
    const isDnsOnly = (rule: Json): boolean =>
      Array.isArray(rule.ports) && rule.ports.length > 0 && (rule.ports as Json[]).every((p) => Number(p.port) === 53);

    it('denies the renderers egress to private, link-local, CGNAT and unique-local ranges, allowing DNS', () => {
      const labels = renderer().workload.spec.template.metadata.labels as Record<string, string>;
      const policies = selecting(labels, 'Egress');
      expect(policies.length).toBeGreaterThan(0);
      const rules = policies.flatMap((p) => (p.spec.egress ?? []) as Json[]);
      expect(rules.some(isDnsOnly)).toBe(true);
      for (const rule of rules) {
        const peers = (rule.to ?? []) as Json[];
        // No `to` allows every destination; a selector allows pods in the private ranges: DNS only.
        if (peers.length === 0 || peers.some((peer) => !peer.ipBlock)) {
          expect({ rule, dnsOnly: isDnsOnly(rule) }).toMatchObject({ dnsOnly: true });
        }
        for (const peer of peers.filter((p) => p.ipBlock)) {
          const allowed = cidr(peer.ipBlock.cidr);
          const except = ((peer.ipBlock.except ?? []) as string[]).map(cidr);
          for (const denied of RENDERER_DENIED.map((text) => ({ text, range: cidr(text) }))) {
            const open = overlap(allowed, denied.range) && !except.some((e) => within(denied.range, e));
            expect({ allowed: peer.ipBlock.cidr, denied: denied.text, open }).toMatchObject({ open: false });
          }
        }
      }
    });

    it('lets the API reach the renderers and Redis, and the renderers accept the API', () => {
      const apiLabels = api().workload.spec.template.metadata.labels as Record<string, string>;
      const rendererLabels = renderer().workload.spec.template.metadata.labels as Record<string, string>;
      const port = configFor(envOf(renderer().container)).headless_port;
      const redisHost = new URL(configFor(envOf(api().container)).redis_url).hostname;
      const redisService = one('Service', redisHost);
      const redisPort = Number(new URL(configFor(envOf(api().container)).redis_url).port || 6379);
      const allows = (rules: Json[], peerLabels: Record<string, string>, tcpPort: number, key: 'to' | 'from'): boolean =>
        rules.some(
          (rule) =>
            ((rule[key] ?? []) as Json[]).length === 0 ||
            ((rule[key] as Json[]).some((peer) => peer.podSelector && !peer.namespaceSelector && matches(peer.podSelector.matchLabels ?? {}, peerLabels)) &&
              (!rule.ports || (rule.ports as Json[]).some((p) => Number(p.port) === tcpPort))),
        );
      const apiEgress = selecting(apiLabels, 'Egress').flatMap((p) => (p.spec.egress ?? []) as Json[]);
      if (selecting(apiLabels, 'Egress').length > 0) {
        expect(allows(apiEgress, rendererLabels, port, 'to')).toBe(true);
        expect(allows(apiEgress, redisService.spec.selector, redisPort, 'to')).toBe(true);
      }
      const rendererIngress = selecting(rendererLabels, 'Ingress').flatMap((p) => (p.spec.ingress ?? []) as Json[]);
      if (selecting(rendererLabels, 'Ingress').length > 0) expect(allows(rendererIngress, apiLabels, port, 'from')).toBe(true);
    });
  });
});

// ---- Node versions -----------------------------------------------------------------------------

describe('Node versions', () => {
  it('package.json engines admit Node 20 and Node 24, and .ci/run tests on both', () => {
    const range = pkg.engines.node as string;
    const minimum = /^>=\s*(\d+)/.exec(range);
    expect(minimum && Number(minimum[1])).toBeLessThanOrEqual(20);
    expect(range).not.toMatch(/</); // no upper bound that would exclude 24
    expect(read('.ci/run')).toMatch(/\bnode@24\b/);
  });
});
