import { VersioningType } from '@nestjs/common';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Logger } from 'nestjs-pino';
import { setSecurityHeaders } from './auth/security-headers';
import { closeConnectionsOnShutdown } from './common/drain';
import { loggerFor, requestLogFor } from './common/logger';
import { requestLogger } from './common/request-logger';
import { genRequestId } from './common/request-id';
import { httpTimeouts } from './common/http-timeouts';
import { routeUpgradeRequests } from './common/websocket-upgrade';
import { createValidationPipe } from './common/validation';
import { errorBody, HttpExceptionFilter } from './common/http-exception.filter';
import { AppConfig } from './config/app-config';
import { serveRendersDirectly } from './render/render.route';
import { serveSessionReadsDirectly } from './session/session-read.route';

export function createAdapter(config: AppConfig): FastifyAdapter {
  return new FastifyAdapter({
    loggerInstance: loggerFor(config),
    logController: requestLogFor(config),
    childLoggerFactory: requestLogger,
    bodyLimit: config.body_limit_bytes,
    ...httpTimeouts(config),
    // Session ids are up to 128 characters; longer ones must reach validation for a clear 400.
    routerOptions: { maxParamLength: 1024 },
    // No Nest middleware runs in this app (request logging is Fastify's own, see app.module.ts):
    // without @fastify/middie, a request does not walk an empty middleware chain.
    skipMiddie: true,
    genReqId: genRequestId,
    requestIdHeader: false,
    // The 503 while closing lets load balancers move on during a graceful shutdown.
    return503OnClosing: true,
    // Errors Fastify answers before routing (a malformed path) get the API's error shape too.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const status = error.statusCode ?? 400;
      setSecurityHeaders(request.url, reply); // no hooks run for these
      void reply.status(status).header('x-request-id', request.id).send(errorBody(status, error.message, request.id));
    },
  });
}

/** Everything main.ts applies to the app, shared with the e2e tests so they test the real thing. */
export function configureApp(app: NestFastifyApplication): NestFastifyApplication {
  app.useLogger(app.get(Logger));
  app.enableVersioning({ type: VersioningType.URI });
  app.useGlobalPipes(createValidationPipe());
  const errors = new HttpExceptionFilter();
  app.useGlobalFilters(errors);
  serveSessionReadsDirectly(app, errors);
  serveRendersDirectly(app, errors);
  const fastify = app.getHttpAdapter().getInstance();
  // Callback style: an async hook would cost a promise per request. Headers set here are on
  // every answer: handlers, errors, 404s.
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    setSecurityHeaders(request.url, reply);
    done();
  });
  closeConnectionsOnShutdown(fastify);
  // GET /v1/sessions/:id/cdp upgrades to a WebSocket through the ordinary route pipeline.
  routeUpgradeRequests(fastify);
  // process.exit after the shutdown hooks (not re-raising the signal): the request log's
  // gathered lines are written on the process's 'exit' event (common/log-batch.ts).
  app.enableShutdownHooks(undefined, { useProcessExit: true });

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('riptide-api')
      .setDescription('Session-aware headless rendering')
      .setVersion('1')
      .addBearerAuth()
      .addApiKey({ type: 'apiKey', name: 'X-API-Key', in: 'header' }, 'api-key')
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  return app;
}
