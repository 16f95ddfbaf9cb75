import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ConsoleLogger, LoggerService, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { closeConnectionsOnShutdown } from '../common/drain';
import { httpTimeouts } from '../common/http-timeouts';
import { AppConfig, requireHeadlessToken } from '../config/app-config';
import { RenderErrorResponse, RendererTokenCheck } from '../renderer-rpc';
import { HeadlessExceptionFilter } from './headless-exception.filter';
import { HeadlessModule } from './headless.module';
import { createValidationPipe } from '../common/validation';

export interface HeadlessAppOptions {
  /** Defaults to JSON lines on stdout at config.log_level; the embedding API may pass its own. */
  logger?: LoggerService;
}

const NEST_LEVELS: Record<AppConfig['log_level'], LogLevel[]> = {
  silent: [],
  fatal: ['fatal'],
  error: ['fatal', 'error'],
  warn: ['fatal', 'error', 'warn'],
  info: ['fatal', 'error', 'warn', 'log'],
  debug: ['fatal', 'error', 'warn', 'log', 'debug'],
  trace: ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'],
};

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A caller's X-Request-Id is kept (so logs line up across services) unless it is not a sane token. */
function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/** The only route that answers without the token: probes cannot hold secrets. */
const OPEN_PATH = '/healthz';

/**
 * Builds the renderer application, initialised but not listening: the caller chooses where
 * (`await app.listen(port, host)`), so the API can embed it and tests can use port 0.
 * @throws ConfigError without a HEADLESS_TOKEN: the renderer trusts no one else.
 */
export async function createHeadlessApp(
  config: AppConfig,
  options: HeadlessAppOptions = {},
): Promise<NestFastifyApplication> {
  requireHeadlessToken(config, 'by the renderer');
  const token = new RendererTokenCheck(config.headless_token);
  const adapter = new FastifyAdapter({
    // A render body carries the caller's input plus a session's saved storage state.
    bodyLimit: config.body_limit_bytes + config.session_max_storage_state_bytes,
    genReqId: requestId,
    ...httpTimeouts(config),
  });
  const app = await NestFactory.create<NestFastifyApplication>(HeadlessModule.forRoot(config), adapter, {
    logger: options.logger ?? new ConsoleLogger({ json: true, logLevels: NEST_LEVELS[config.log_level] }),
    abortOnError: false,
  });
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new HeadlessExceptionFilter());
  const fastify = app.getHttpAdapter().getInstance();
  // Before routing and body parsing, so an unauthenticated caller gets nothing parsed or routed.
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    if (request.url.split('?', 1)[0] === OPEN_PATH || token.accepts(request.headers.authorization)) return done();
    const body: RenderErrorResponse = {
      error: 'missing or wrong renderer token',
      kind: 'unauthorized',
      request_id: request.id,
      duration_ms: 0,
    };
    void reply.code(401).header('www-authenticate', 'Bearer').send(body);
  });
  closeConnectionsOnShutdown(fastify);
  await app.init();
  return app;
}
