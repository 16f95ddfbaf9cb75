import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { RendererPool } from '../render/renderer-pool';

/** A probe answers within this or counts the renderer as down (Kubernetes' default probe timeout is 1 s). */
export const PROBE_TIMEOUT_MS = 800;
/** Probe results are reused this long, so frequent readiness probes and scrapes stay cheap. */
export const PROBE_CACHE_MS = 1500;

export interface RendererHealth {
  url: string;
  up: boolean;
  /** Why it is down: `healthz answered 503`, `timeout`, `ECONNREFUSED`, ... */
  reason?: string;
}

/**
 * Asks every renderer the API uses (HEADLESS_URLS, or the embedded one) for `GET /healthz`,
 * on its own small connection pool so that a probe never queues behind renders. Results are
 * cached for PROBE_CACHE_MS and concurrent callers share one round of probes.
 */
@Injectable()
export class RendererProbe implements OnApplicationShutdown {
  private readonly agent = new Agent({
    connections: 2,
    keepAliveTimeout: 10_000,
    connect: { timeout: PROBE_TIMEOUT_MS },
  });
  private cached: { at: number; result: RendererHealth[] } | null = null;
  private inflight: Promise<RendererHealth[]> | null = null;

  constructor(private readonly renderers: RendererPool) {}

  /** Every renderer's health, at most PROBE_CACHE_MS old. Never throws. */
  check(): Promise<RendererHealth[]> {
    // Real time, not the app's Clock: tests replace that one to move session expiry.
    if (this.cached && performance.now() - this.cached.at < PROBE_CACHE_MS) return Promise.resolve(this.cached.result);
    this.inflight ??= this.probeAll()
      .then((result) => {
        this.cached = { at: performance.now(), result };
        return result;
      })
      .finally(() => (this.inflight = null));
    return this.inflight;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.agent.destroy();
  }

  private async probeAll(): Promise<RendererHealth[]> {
    let urls: string[];
    try {
      urls = this.renderers.all().map((renderer) => renderer.url);
    } catch {
      return [{ url: 'embedded', up: false, reason: 'renderer not started' }];
    }
    return Promise.all(urls.map((url) => this.probe(url)));
  }

  private async probe(url: string): Promise<RendererHealth> {
    try {
      const res = await request(`${url}/healthz`, {
        dispatcher: this.agent,
        signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
        headersTimeout: PROBE_TIMEOUT_MS,
        bodyTimeout: PROBE_TIMEOUT_MS,
      });
      await res.body.dump();
      return res.statusCode === 200 ? { url, up: true } : { url, up: false, reason: `healthz answered ${res.statusCode}` };
    } catch (err) {
      return { url, up: false, reason: failureReason(err) };
    }
  }
}

/** A short, stack-free reason: an errno code or "timeout". */
export function failureReason(err: unknown): string {
  const { code, name, cause } = (err ?? {}) as { code?: string; name?: string; cause?: { code?: string } };
  if (name === 'TimeoutError' || name === 'AbortError' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT') {
    return 'timeout';
  }
  return code ?? cause?.code ?? name ?? 'error';
}
