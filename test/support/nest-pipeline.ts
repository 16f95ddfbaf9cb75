import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RouteOptions } from 'fastify';
import { configureApp } from '../../src/app.setup';
import type { InjectResponse } from './app';

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

type LogLines = () => Record<string, unknown>[];

/**
 * The direct route's answer and Nest's to the same request (with a given request id) are the
 * same to the byte but for the date, and each wrote the same single request log line.
 */
export function expectSameAnswer(direct: InjectResponse<unknown>, nest: InjectResponse<unknown>, directLog: LogLines, nestLog: LogLines): void {
  expect(direct.status).toBe(nest.status);
  expect(direct.headers).toEqual({ ...nest.headers, date: direct.headers.date });
  expect(direct.text).toBe(nest.text);
  const lines = directLog();
  expect(lines).toHaveLength(1);
  expect(lines).toEqual(nestLog());
}
