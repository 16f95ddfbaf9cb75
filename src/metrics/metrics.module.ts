import { Global, Module } from '@nestjs/common';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { register } from 'prom-client';
import { HealthModule } from '../health/health.module';
import { AppMetricsRegistry } from './app-metrics.registry';
import { CdpMetricsRecorder } from './cdp-metrics.recorder';
import { METRICS_PATH, MetricsController } from './metrics.controller';
import { RenderMetricsRecorder } from './render-metrics.recorder';
import { ScrapeCollector } from './scrape.collector';
import { SessionMetricsRecorder } from './session-metrics.recorder';

/**
 * Registered once per process (this runs when the module is first loaded): the default
 * process metrics go on prom-client's global registry, and /metrics is our controller.
 */
const prometheus = PrometheusModule.register({
  path: METRICS_PATH,
  controller: MetricsController,
  defaultMetrics: { enabled: true },
});
// prom-client exports these three as gauges named `..._total`, which `promtool check metrics`
// rejects (non-counters must not end in _total). They only sum the `nodejs_active_handles`,
// `nodejs_active_requests` and `nodejs_active_resources` gauges (by type), which stay.
for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
  register.removeSingleMetric(name);
}

/**
 * Prometheus metrics (DESIGN §6). Global so that the session store and the RPC client can
 * take their recorders without importing this module.
 */
@Global()
@Module({
  imports: [prometheus, HealthModule],
  providers: [
    { provide: AppMetricsRegistry, useFactory: () => new AppMetricsRegistry() },
    SessionMetricsRecorder,
    RenderMetricsRecorder,
    CdpMetricsRecorder,
    ScrapeCollector,
  ],
  exports: [AppMetricsRegistry, SessionMetricsRecorder, RenderMetricsRecorder, CdpMetricsRecorder],
})
export class MetricsModule {}
