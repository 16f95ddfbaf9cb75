'use strict';
/**
 * Server for p1-layers.js: the API composed from dist/ like main.ts + app.setup.ts do, with
 * layers left out according to VARIANT (comma-separated flags). Diagnostic only: it mirrors
 * AppModule/configureApp by hand, so it can drift from them when src/ changes.
 *   nopino   no nestjs-pino LoggerModule (Nest's own logger, warn and up)
 *   nopipe   no global ValidationPipe
 *   noonsend no onSend hook (x-request-id)
 *   mw       a no-op Nest middleware on every route (what @fastify/middie costs)
 *   als      a Nest middleware that runs the request in AsyncLocalStorage.run (as nestjs-pino)
 *   quiet    pino-http with quietReqLogger/quietResLogger and request_id as its reqId key
 *            instead of customProps (one child logger per request instead of three)
 */
const path = require('node:path');
const { AsyncLocalStorage } = require('node:async_hooks');

const ROOT = path.resolve(__dirname, '..', '..');
const dist = (m) => require(path.join(ROOT, 'dist', m));
require('reflect-metadata');
const { NestFactory } = require('@nestjs/core');
const { Module, RequestMethod, ValidationPipe, VersioningType } = require('@nestjs/common');
const { ScheduleModule } = require('@nestjs/schedule');
const { LoggerModule, Logger } = require('nestjs-pino');
const { loadConfig } = dist('config/app-config');
const { ConfigModule } = dist('config/config.module');
const { CommonModule } = dist('common/common.module');
const { SessionModule } = dist('session/session.module');
const { createAdapter } = dist('app.setup');
const { HttpExceptionFilter } = dist('common/http-exception.filter');

const flags = new Set((process.env.VARIANT || '').split(',').filter(Boolean));

async function main() {
  const config = loadConfig();
  const pinoHttp = {
    level: config.log_level,
    genReqId: (req) => req.id ?? '',
    customProps: (req) => ({ request_id: req.id }),
    autoLogging: { ignore: (req) => req.url?.startsWith('/health') ?? false },
    redact: ['req.headers.authorization', 'req.headers["x-api-key"]'],
  };
  if (flags.has('quiet')) {
    delete pinoHttp.customProps;
    Object.assign(pinoHttp, { quietReqLogger: true, quietResLogger: true, customAttributeKeys: { reqId: 'request_id' } });
  }
  const imports = [ConfigModule.forRoot(config), ScheduleModule.forRoot(), CommonModule, SessionModule];
  if (!flags.has('nopino')) imports.push(LoggerModule.forRoot({ pinoHttp }));

  const als = new AsyncLocalStorage();
  const all = { path: '*', method: RequestMethod.ALL };
  class AppModule {
    configure(consumer) {
      if (flags.has('mw')) consumer.apply((req, res, next) => next()).forRoutes(all);
      if (flags.has('als')) consumer.apply((req, res, next) => als.run({ req }, next)).forRoutes(all);
    }
  }
  Module({ imports })(AppModule);

  const pino = !flags.has('nopino');
  const app = await NestFactory.create(AppModule, createAdapter(config), pino ? { bufferLogs: true } : { logger: ['error', 'warn'] });
  if (pino) app.useLogger(app.get(Logger));
  app.enableVersioning({ type: VersioningType.URI });
  if (!flags.has('nopipe')) {
    app.useGlobalPipes(
      new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true, validationError: { target: false, value: false } }),
    );
  }
  app.useGlobalFilters(new HttpExceptionFilter());
  if (!flags.has('noonsend')) {
    app.getHttpAdapter().getInstance().addHook('onSend', async (request, reply) => {
      reply.header('x-request-id', request.id);
    });
  }
  await app.listen(config.port, config.host);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
