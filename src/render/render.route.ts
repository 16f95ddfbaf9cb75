import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiKeyGuard } from '../auth/api-key.guard';
import { tenantOf } from '../auth/tenant.decorator';
import { serveDirectly } from '../common/direct-route';
import type { HttpExceptionFilter } from '../common/http-exception.filter';
import { RequestLimitGuard } from '../session/request-limit.guard';
import type { RenderDto } from './dto/render.dto';
import { RenderController } from './render.controller';
import { RenderRequestGuard } from './render-request.guard';
import { TenantConcurrencyGuard } from './tenant-concurrency.guard';

/** RenderController.render's route as Nest registers it on Fastify (URI versioning, v1). */
const RENDER_PATH = '/v1/render';

/**
 * Serves `POST /v1/render` without Nest's per-request pipeline (common/direct-route.ts; P2 in
 * bench/): the global API-key guard (no `?token=` here), then RenderController.render's guards in
 * their order — RenderRequestGuard, TenantConcurrencyGuard, RequestLimitGuard — the controller
 * method, and the global filter for any error. The guards' own cleanups hold on every path as
 * under Nest: the tenant's slot is given back when the response closes (also on a client abort),
 * a reserved request is settled by RpcClient.
 */
export function serveRendersDirectly(app: NestFastifyApplication, errors: HttpExceptionFilter): void {
  const apiKeys = app.get(ApiKeyGuard);
  const renderRequest = app.get(RenderRequestGuard);
  const tenantConcurrency = app.get(TenantConcurrencyGuard);
  const requestLimit = app.get(RequestLimitGuard);
  const controller = app.get(RenderController);

  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    try {
      apiKeys.authenticate(request, reply);
      await renderRequest.admit(request);
      tenantConcurrency.enter(request, reply);
      await requestLimit.reserve(request, reply);
      reply.send(await controller.render(request.body as RenderDto, tenantOf(request), request.reservation, request, reply));
    } catch (err) {
      errors.send(err, request, reply);
    }
  };

  serveDirectly(app, RENDER_PATH, ['POST'], handler);
}
