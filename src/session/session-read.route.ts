import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { tenantOf } from '../auth/tenant.decorator';
import { serveDirectly } from '../common/direct-route';
import type { HttpExceptionFilter } from '../common/http-exception.filter';
import { SessionIdPipe } from './session-id.pipe';
import { SessionsController } from './sessions.controller';

/** SessionsController.get's route as Nest registers it on Fastify (URI versioning, v1). */
const SESSION_READ_PATH = '/v1/sessions/:id';

type SessionReadRequest = FastifyRequest<{ Params: { id: string } }>;

/**
 * Serves `GET /v1/sessions/:id`, the API's hot read path (P1 in bench/), without Nest's
 * per-request pipeline (common/direct-route.ts): the global API-key guard (this route takes no
 * `?token=`), the id pipe, SessionsController.get, and the global filter for any error.
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

  // HEAD too: Fastify derives it from the GET route with Nest's handler already copied.
  serveDirectly(app, SESSION_READ_PATH, ['GET', 'HEAD'], handler as RouteHandlerMethod);
}
