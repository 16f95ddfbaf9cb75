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
 * How often the event-loop lag monitor samples (prom-client's default: every 10 ms). Each
 * sample wakes the process, and on the VMs we measure on a wake-up costs 50-70 us of CPU
 * whatever it does: at 10 ms the monitor was most of an idle API's CPU (7-10 ms/s of it, against
 * 3.5 ms/s at 100 ms) and about 0.7 ms of each render's API CPU at P2's rate (bench/README.md).
 * prom-client's lag is the time between two samples, so a stall of D ms still always shows in
 * `nodejs_eventloop_lag_max_seconds` as at least D ms; what 50 ms gives up is detail below
 * 50 ms, and the percentiles rest on 20 samples a second instead of 100.
 */
export const EVENT_LOOP_SAMPLE_MS = 50;

/**
 * Registered once per process (this runs when the module is first loaded): the default
 * process metrics go on prom-client's global registry, and /metrics is our controller.
 */
const prometheus = PrometheusModule.register({
  path: METRICS_PATH,
  controller: MetricsController,
  defaultMetrics: { enabled: true, config: { eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS } },
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
