import { Controller, Get, Res, ServiceUnavailableException, VERSION_NEUTRAL } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckResult, HealthCheckService } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/public.decorator';
import { ReadinessIndicators } from './readiness.indicators';

/**
 * Kubernetes-style probes, outside the /v1 prefix and open without an API key. Bodies are
 * Terminus' `{ status, info, error, details }`; a failing readiness answers 503 with that
 * same body (not the API's error shape, which would drop the details).
 */
@ApiTags('health')
@Public()
@Controller({ path: 'health', version: VERSION_NEUTRAL })
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly readiness: ReadinessIndicators,
  ) {}

  /**
   * The process is up and serving HTTP. No dependency is checked, and it stays 200 during a
   * graceful shutdown (a failing liveness probe gets a process restarted, not drained), so it
   * is answered here rather than through Terminus, whose result turns to `shutting_down`.
   */
  @Get('live')
  @HealthCheck()
  @ApiOperation({ summary: 'Liveness: the process is up (no dependency checks)' })
  live(): HealthCheckResult {
    const up = { process: { status: 'up' as const } };
    return { status: 'ok', info: up, error: {}, details: up };
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness: session backend reachable, a renderer healthy, not shutting down' })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthCheckResult> {
    try {
      return await this.health.check([
        () => this.readiness.lifecycle(),
        () => this.readiness.sessionBackend(),
        () => this.readiness.renderers(),
      ]);
    } catch (err) {
      if (!(err instanceof ServiceUnavailableException)) throw err;
      void reply.status(503);
      return err.getResponse() as HealthCheckResult;
    }
  }
}
