import 'reflect-metadata';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { AppModule } from '../../src/app.module';
import { configureApp, createAdapter } from '../../src/app.setup';
import { Clock, FakeClock } from '../../src/common/clock';
import { AppConfig, loadConfig } from '../../src/config/app-config';

export { FakeClock };

/** Config keys a test may override; values go through the same validation as the environment. */
export type ConfigOverrides = Partial<Record<keyof AppConfig, unknown>>;

type NativeInjectOptions = Exclude<Parameters<NestFastifyApplication['inject']>[0], string>;
type NativeResponse = Awaited<ReturnType<NestFastifyApplication['inject']>>;
type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';

export interface InjectRequest {
  method?: Method;
  url: string;
  /** Query parameters, appended to `url`. */
  query?: Record<string, string | string[]>;
  headers?: NativeInjectOptions['headers'];
  /** An object is sent as JSON; a string or Buffer is sent as is (set content-type yourself). */
  payload?: object | string | Buffer;
}

export interface InjectResponse<T> {
  status: number;
  headers: NativeResponse['headers'];
  /** The parsed JSON body, or undefined when the response is not JSON (or empty). */
  body: T;
  /** The raw body text. */
  text: string;
  raw: NativeResponse;
}

export type Inject = <T = any>(request: InjectRequest | string) => Promise<InjectResponse<T>>;

export interface BootedApp {
  app: NestFastifyApplication;
  config: AppConfig;
  /** The fake clock the app runs on, when one was given. */
  clock: FakeClock | undefined;
  inject: Inject;
  close(): Promise<void>;
}

export interface BootOptions {
  /** Replaces the app's Clock so that expiry is tested by advancing time, never by sleeping. */
  clock?: FakeClock;
  /** Runs instead of configureApp (a test that wraps it, e.g. with Fastify hooks around it). */
  setup?: (app: NestFastifyApplication) => void;
}

/**
 * Boots the whole API in-process, exactly as main.ts does (same module, adapter and setup),
 * without listening on a port: requests go through Fastify's inject (light-my-request).
 * Logs are silent unless `log_level` is overridden.
 */
export async function bootApp(overrides: ConfigOverrides = {}, opts: BootOptions = {}): Promise<BootedApp> {
  // Port 0: an embedded renderer never collides with another app or test on the machine.
  const config = loadConfig({ overrides: { log_level: 'silent', headless_port: 0, ...overrides } });
  let builder = Test.createTestingModule({ imports: [AppModule.forRoot(config)] });
  if (opts.clock) builder = builder.overrideProvider(Clock).useValue(opts.clock);
  const moduleRef = await builder.compile();

  const app = moduleRef.createNestApplication<NestFastifyApplication>(createAdapter(config), {
    logger: config.log_level === 'silent' ? false : undefined,
  });
  (opts.setup ?? configureApp)(app);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();

  const inject: Inject = async <T>(request: InjectRequest | string): Promise<InjectResponse<T>> => {
    const req: InjectRequest = typeof request === 'string' ? { url: request } : request;
    const options: NativeInjectOptions = {
      method: req.method ?? 'GET',
      url: req.url,
      headers: req.headers,
    };
    if (req.query) options.query = req.query;
    if (req.payload !== undefined) options.payload = req.payload;
    const raw = await app.inject(options);
    const type = String(raw.headers['content-type'] ?? '');
    const body = (type.includes('json') && raw.body.length > 0 ? JSON.parse(raw.body) : undefined) as T;
    return { status: raw.statusCode, headers: raw.headers, body, text: raw.body, raw };
  };

  return { app, config, clock: opts.clock, inject, close: () => app.close() };
}
