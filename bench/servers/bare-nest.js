'use strict';
/**
 * P1's second reference: the smallest NestJS 11 app on the Fastify adapter. One module, one
 * controller, `GET /v1/sessions/:id` returning the JSON object read from BARE_BODY_FILE (the
 * one P1 took from the real app). No global pipes, filters, guards, interceptors, middleware,
 * versioning or logging (Nest's logger off, Fastify's default: none); the handler takes no
 * parameters. What it costs over bare Fastify is Nest's own routing and handler pipeline: the
 * floor under the full app.
 */
require('reflect-metadata');
const fs = require('node:fs');
const { Controller, Get, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { FastifyAdapter } = require('@nestjs/platform-fastify');

const body = JSON.parse(fs.readFileSync(process.env.BARE_BODY_FILE, 'utf8'));

class SessionsController {
  get() {
    return body;
  }
}
// The plain-JS form of `@Controller('v1/sessions')` on the class and `@Get(':id')` on get().
Reflect.decorate([Get(':id')], SessionsController.prototype, 'get', Object.getOwnPropertyDescriptor(SessionsController.prototype, 'get'));
Reflect.decorate([Controller('v1/sessions')], SessionsController);

class AppModule {}
Reflect.decorate([Module({ controllers: [SessionsController] })], AppModule);

async function main() {
  const app = await NestFactory.create(AppModule, new FastifyAdapter(), { logger: false });
  app.enableShutdownHooks();
  await app.listen(Number(process.env.PORT), '127.0.0.1');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
