import {
  BadRequestException,
  GatewayTimeoutException,
  Injectable,
  ServiceUnavailableException,
} from '@nestjs/common';
import { Counter } from 'prom-client';
import { RENDER_ERROR_STATUS } from '../renderer-rpc';
import { AppMetricsRegistry } from './app-metrics.registry';
import { LabelledHistogram } from './labelled-histogram';

/**
 * How a render ended, as the API saw it: `success` (200), `timeout` (504), `unavailable`
 * (503: no renderer, renderer busy or shutting down), `invalid` (the renderer refused the
 * request as invalid: 400, the caller's fault), `error` (anything else: 502).
 */
export type RenderOutcome = 'success' | 'error' | 'timeout' | 'unavailable' | 'invalid';
const OUTCOMES: readonly RenderOutcome[] = ['success', 'error', 'timeout', 'unavailable', 'invalid'];

/**
 * RPC failure kinds. Transport-level, seen by the API: `unreachable` (could not connect; the
 * next renderer is tried), `rpc_timeout` (no answer within the hard cap plus margin),
 * `connection` (connection broke, unreadable answer), `no_renderer` (none reachable or all
 * circuit breakers open). Otherwise the renderer's own error `kind` (navigation_failed, busy,
 * timeout, ...); a kind this build does not know is counted as `other`.
 */
export const TRANSPORT_ERROR_KINDS = ['unreachable', 'rpc_timeout', 'connection', 'no_renderer'] as const;
export type TransportErrorKind = (typeof TRANSPORT_ERROR_KINDS)[number];
/** state_required is not a failure: the RPC client answers it by sending the render again with its state. */
const RENDERER_KINDS = new Set<string>(Object.keys(RENDER_ERROR_STATUS).filter((kind) => kind !== 'state_required'));

const RENDER_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60];

export function renderOutcomeOf(err: unknown): RenderOutcome {
  if (err instanceof GatewayTimeoutException) return 'timeout';
  if (err instanceof ServiceUnavailableException) return 'unavailable';
  if (err instanceof BadRequestException) return 'invalid';
  return 'error';
}

/** What the RPC client records: render durations by outcome and RPC errors by kind. */
@Injectable()
export class RenderMetricsRecorder {
  private readonly duration: LabelledHistogram<'outcome'>;
  private readonly errors: Counter<'kind'>;

  constructor(registry: AppMetricsRegistry) {
    // Observed on every render: see LabelledHistogram.
    this.duration = new LabelledHistogram({
      name: 'riptide_render_duration_seconds',
      help: 'Duration of renders sent to the renderers (RPC round trip, including failover), by outcome.',
      labelName: 'outcome',
      buckets: RENDER_BUCKETS,
      registers: [registry],
    });
    for (const outcome of OUTCOMES) this.duration.labels(outcome);
    this.errors = new Counter({
      name: 'riptide_renderer_rpc_errors_total',
      help: 'Failed renderer RPCs, by kind (transport failures and the renderer-reported error kind).',
      labelNames: ['kind'],
      registers: [registry],
    });
    for (const kind of [...TRANSPORT_ERROR_KINDS, ...RENDERER_KINDS, 'other']) this.errors.inc({ kind }, 0);
  }

  /** Runs one render and records its duration under its outcome. */
  async timeRender<T>(render: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const observe = (outcome: RenderOutcome) => this.duration.labels(outcome).observe((performance.now() - started) / 1000);
    try {
      const result = await render();
      observe('success');
      return result;
    } catch (err) {
      observe(renderOutcomeOf(err));
      throw err;
    }
  }

  /** A transport failure (see TRANSPORT_ERROR_KINDS). */
  transportError(kind: TransportErrorKind): void {
    this.errors.inc({ kind });
  }

  /** The renderer answered with an error; `kind` is the renderer's own (its body's `kind`). */
  rendererError(kind: unknown): void {
    this.errors.inc({ kind: typeof kind === 'string' && RENDERER_KINDS.has(kind) ? kind : 'other' });
  }
}
