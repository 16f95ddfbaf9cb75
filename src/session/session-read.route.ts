import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { tenantOf } from '../auth/tenant.decorator';
import type { HttpExceptionFilter } from '../common/http-exception.filter';
import { SessionIdPipe } from './session-id.pipe';
import { SessionsController } from './sessions.controller';

/** SessionsController.get's route as Nest registers it on Fastify (URI versioning, v1). */
const SESSION_READ_PATH = '/v1/sessions/:id';

type SessionReadRequest = FastifyRequest<{ Params: { id: string } }>;

/**
 * Serves `GET /v1/sessions/:id`, the API's hot read path (P1 in bench/), without Nest's
 * per-request pipeline: the route execution context, guard and pipe consumers, param
 * factories and response controller cost about as much again as the rest of the request
 * (CPU profile, issue 10). The route stays SessionsController.get's (declared there: its
 * response schema, its OpenAPI entry); Fastify's onRoute hook swaps in this handler when Nest
 * registers it, and the handler runs the very pieces Nest would, in Nest's order:
 * the global API-key guard (this route takes no `?token=`), the id pipe, the controller
 * method, and the global filter for any error. Fastify's own hooks (request id, security
 * headers, request log) and the schema serializer run as for every route.
 *
 * Must be called before the app is initialised (configureApp), when Nest registers routes.
 */
export function serveSessionReadsDirectly(app: NestFastifyApplication, errors: HttpExceptionFilter): void {
  const guard = app.get(ApiKeyGuard);
  const controller = app.get(SessionsController);
  const idPipe = new SessionIdPipe();

  const handler = (request: SessionReadRequest, reply: FastifyReply): void => {
    let id: string;
    try {
      guard.authenticate(request, reply);
      id = idPipe.transform(request.params.id);
    } catch (err) {
      errors.send(err, request, reply);
      return;
    }
    controller.get(tenantOf(request), id).then(
      (session) => reply.send(session),
      (err: unknown) => errors.send(err, request, reply),
    );
  };

  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRoute', (route) => {
      // HEAD too: Fastify derives it from the GET route with Nest's handler already copied.
      if (route.url === SESSION_READ_PATH && (route.method === 'GET' || route.method === 'HEAD')) {
        route.handler = handler as RouteHandlerMethod;
      }
    });
}
