import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RouteOptions } from 'fastify';
import { configureApp } from '../../src/app.setup';

/**
 * configureApp, with Nest's own handlers restored on the routes it serves directly
 * (common/direct-route.ts): the reference a direct route is compared with.
 */
export function withNestPipeline(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  const nestHandlers = new Map<string, RouteOptions['handler']>();
  const key = (route: RouteOptions) => `${String(route.method)} ${route.url}`;
  fastify.addHook('onRoute', (route) => void nestHandlers.set(key(route), route.handler));
  configureApp(app);
  fastify.addHook('onRoute', (route) => {
    route.handler = nestHandlers.get(key(route)) ?? route.handler;
  });
}
