import { Controller, Get, Res, VERSION_NEUTRAL } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { PrometheusController } from '@willsoto/nestjs-prometheus';
import type { FastifyReply } from 'fastify';
import { register, Registry } from 'prom-client';
import { AppMetricsRegistry } from './app-metrics.registry';

/** Where the exposition is served (unprefixed, unversioned). The API-key guard matches this path. */
export const METRICS_PATH = '/metrics';

/**
 * GET /metrics: the process metrics (prom-client's default registry, where
 * @willsoto/nestjs-prometheus collects them) and this app's own. Open unless
 * METRICS_REQUIRE_KEY=true: that decision is the API-key guard's (src/auth/api-key.guard.ts,
 * by path and `config.metrics_require_key`), so this controller is deliberately not @Public().
 */
@ApiExcludeController()
@Controller({ version: VERSION_NEUTRAL })
export class MetricsController extends PrometheusController {
  constructor(private readonly registry: AppMetricsRegistry) {
    super();
  }

  @Get()
  override async index(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    void reply.header('Content-Type', register.contentType);
    return Registry.merge([register, this.registry]).metrics();
  }
}
