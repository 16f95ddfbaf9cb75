import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { AppMetricsRegistry } from './app-metrics.registry';

/**
 * Why a CDP connection was refused before the upgrade: `in_use` (409, the session is
 * connected), `request_limit` (429), `capacity` (503, the renderer's CDP_MAX_CONNECTIONS or
 * none reachable), `error` (the renderer failed to start the browser).
 */
export const CDP_REJECTION_REASONS = ['in_use', 'request_limit', 'capacity', 'error'] as const;
export type CdpRejectionReason = (typeof CDP_REJECTION_REASONS)[number];

/** How connections end (the WebSocket close the client gets says the same). */
export const CDP_END_REASONS = ['client', 'browser_close', 'idle', 'max_duration', 'expired', 'deleted', 'lock_lost', 'renderer', 'shutdown'] as const;
export type CdpEndReason = (typeof CDP_END_REASONS)[number];

const DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

/** CDP connections on this API instance: how many are open, how long they last, why some were refused. */
@Injectable()
export class CdpMetricsRecorder {
  private readonly active: Gauge;
  private readonly duration: Histogram<'reason'>;
  private readonly rejections: Counter<'reason'>;

  constructor(registry: AppMetricsRegistry) {
    const registers = [registry];
    this.active = new Gauge({
      name: 'riptide_cdp_connections_active',
      help: 'CDP connections (GET /v1/sessions/:id/cdp) open on this API instance.',
      registers,
    });
    this.duration = new Histogram({
      name: 'riptide_cdp_connection_duration_seconds',
      help: 'Duration of CDP connections, from the upgrade to the saved state, by why they ended.',
      labelNames: ['reason'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    for (const reason of CDP_END_REASONS) this.duration.zero({ reason });
    this.rejections = new Counter({
      name: 'riptide_cdp_rejections_total',
      help: 'CDP connections refused before the upgrade, by reason (in_use 409, request_limit 429, capacity 503, error).',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of CDP_REJECTION_REASONS) this.rejections.inc({ reason }, 0);
  }

  opened(): void {
    this.active.inc();
  }

  closed(reason: CdpEndReason, seconds: number): void {
    this.active.dec();
    this.duration.observe({ reason }, seconds);
  }

  rejected(reason: CdpRejectionReason): void {
    this.rejections.inc({ reason });
  }
}
