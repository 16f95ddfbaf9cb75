import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { Pool } from 'undici';
import { AppConfig } from '../config/app-config';
import { CircuitBreaker } from './circuit-breaker';
import { rendererAuthHeaders } from '../renderer-rpc';
import { EmbeddedRenderer } from './embedded-renderer.service';
import { RendererKeys } from './renderer-keys';

export interface Renderer {
  readonly url: string;
  readonly pool: Pool;
  readonly breaker: CircuitBreaker;
}

/** Rendezvous (highest random weight) score: stable per (renderer, key), so a session keeps
 * its renderer, and only the sessions of a renderer that leaves move. */
function score(url: string, key: string): number {
  return createHash('sha1').update(url).update('\0').update(key).digest().readUInt32BE(0);
}

/** The renderers this API talks to: HEADLESS_URLS, or the embedded one. */
@Injectable()
export class RendererPool implements OnApplicationShutdown {
  private renderers: Renderer[] | null = null;
  private next = 0;
  /** The Authorization header every renderer call but /healthz carries. */
  readonly authHeaders: { authorization: string };
  /** Context and queue keys, derived under the renderer token (see contextKey). */
  readonly keys: RendererKeys;

  constructor(
    private readonly config: AppConfig,
    private readonly embedded: EmbeddedRenderer,
  ) {
    const token = config.headless_urls.length > 0 ? config.headless_token : embedded.token;
    this.authHeaders = rendererAuthHeaders(token);
    this.keys = new RendererKeys(token);
  }

  /** Renderers in the order to try them: by rendezvous score for a key, else round robin. */
  rank(key: string | null): Renderer[] {
    const all = this.all();
    // One renderer (the embedded one, or a single HEADLESS_URLS): nothing to rank or hash.
    if (all.length === 1) return all;
    if (key === null) {
      const start = this.next++ % all.length;
      return [...all.slice(start), ...all.slice(0, start)];
    }
    return all
      .map((renderer) => ({ renderer, weight: score(renderer.url, key) }))
      .sort((a, b) => b.weight - a.weight)
      .map((ranked) => ranked.renderer);
  }

  all(): Renderer[] {
    if (!this.renderers) {
      const urls = this.config.headless_urls.length > 0 ? this.config.headless_urls : [this.embedded.url()];
      this.renderers = urls.map((url) => ({
        url: url.replace(/\/+$/, ''),
        pool: new Pool(url, { connections: 128, keepAliveTimeout: 30_000, connect: { timeout: 2000 } }),
        breaker: new CircuitBreaker(),
      }));
    }
    return this.renderers;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all((this.renderers ?? []).map((renderer) => renderer.pool.close()));
  }
}
