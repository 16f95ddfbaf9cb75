import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { ReadinessIndicators } from './readiness.indicators';
import { RendererProbe } from './renderer-probe';

/** GET /health/live and /health/ready (DESIGN §3). RendererProbe also feeds riptide_renderer_up. */
@Module({
  // Terminus' own failure log would repeat every probe; ReadinessIndicators logs changes of state.
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [RendererProbe, ReadinessIndicators],
  exports: [RendererProbe],
})
export class HealthModule {}
