import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RouteHandlerMethod } from 'fastify';

/**
 * Serves a hot route Nest declares without Nest's per-request pipeline: the route execution
 * context, guard and pipe consumers, param factories, interceptors and response controller
 * cost about as much again as the rest of a request (CPU profiles, issue 10). The route stays
 * its controller method's (declared there: its schema, its OpenAPI entry); Fastify's onRoute
 * hook swaps in `handler` when Nest registers it. The handler must run the very pieces Nest
 * would, in Nest's order: the global API-key guard, the route's guards and pipes, the
 * controller method, and the global filter for any error. Fastify's own hooks (request id,
 * security headers, request log) and serializers run as for every route.
 *
 * Must be called before the app is initialised (configureApp), when Nest registers routes.
 */
export function serveDirectly(app: NestFastifyApplication, url: string, methods: readonly string[], handler: RouteHandlerMethod): void {
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRoute', (route) => {
      if (route.url === url && typeof route.method === 'string' && methods.includes(route.method)) route.handler = handler;
    });
}
