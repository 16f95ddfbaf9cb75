import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { AppConfig } from '../config/app-config';
import { ContextLease, ContextPool } from './context-pool';
import type { StorageState } from '../renderer-rpc';
import { firstLine, RenderError } from './errors';

/** Hardening flags of every Chromium the renderer starts (the shared one and per-session CDP ones). */
export const CHROMIUM_ARGS = [
  '--no-sandbox', // the renderer commonly runs as root in a container, where the sandbox cannot start
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--disable-dev-shm-usage',
];
const LAUNCH_TIMEOUT_MS = 30_000;

/**
 * Owns the one Chromium process (launched on first use, relaunched after a crash) and the
 * warm per-session contexts in it.
 */
@Injectable()
export class BrowserService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('HeadlessBrowser');
  private browser?: Browser;
  private launching?: Promise<Browser>;
  private readonly contexts: ContextPool<BrowserContext, StorageState>;
  private sweeper?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly config: AppConfig) {
    this.contexts = new ContextPool({
      create: (state) => this.newContext(state),
      maxContexts: config.headless_max_contexts,
      idleMs: config.headless_context_idle_seconds * 1000,
      onCloseError: (id, error) => this.logger.warn(`closing context ${id} failed: ${describe(error)}`),
    });
  }

  onModuleInit(): void {
    const idleMs = this.config.headless_context_idle_seconds * 1000;
    // A few sweeps per idle period keeps the overshoot small without busy timers.
    this.sweeper = setInterval(() => this.contexts.sweep(), Math.min(Math.max(idleMs / 4, 1000), 60_000));
    this.sweeper.unref();
  }

  get connected(): boolean {
    return this.browser?.isConnected() ?? false;
  }

  get contextCount(): number {
    return this.contexts.size;
  }

  /** The running browser, launching it if needed. Throws `browser_unavailable` if it cannot start. */
  async getBrowser(): Promise<Browser> {
    if (this.closed) throw new RenderError('shutting_down', 'renderer is shutting down');
    if (this.browser?.isConnected()) return this.browser;
    this.launching ??= this.launch().finally(() => (this.launching = undefined));
    return this.launching;
  }

  /** The warm context of a context key, or a new one restored from `state`. */
  leaseContext(key: string, state?: StorageState): Promise<ContextLease<BrowserContext>> {
    return this.contexts.lease(key, state);
  }

  /** A fresh context for one render without a session, closed on release. */
  async leaseThrowaway(): Promise<ContextLease<BrowserContext>> {
    const context = await this.newContext(undefined);
    return {
      context,
      reused: false,
      release: () => void context.close().catch((e) => this.logger.warn(`closing context failed: ${describe(e)}`)),
    };
  }

  closeContext(key: string): void {
    this.contexts.remove(key);
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    await this.contexts.closeAll();
    const browser = this.browser ?? (await this.launching?.catch(() => undefined));
    this.browser = undefined;
    await browser?.close().catch((e) => this.logger.warn(`closing Chromium failed: ${describe(e)}`));
  }

  private async launch(): Promise<Browser> {
    let browser: Browser;
    try {
      browser = await chromium.launch({
        executablePath: this.config.chromium_path,
        headless: true,
        args: CHROMIUM_ARGS,
        timeout: LAUNCH_TIMEOUT_MS,
        // Playwright would kill Chromium on these signals before in-flight renders could drain;
        // the application's shutdown hooks close it instead (and Playwright still kills it on exit).
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
      });
    } catch (error) {
      this.logger.error(`cannot launch Chromium at ${this.config.chromium_path}: ${describe(error)}`);
      throw new RenderError('browser_unavailable', `cannot launch Chromium at ${this.config.chromium_path}`);
    }
    if (this.closed) {
      await browser.close();
      throw new RenderError('shutting_down', 'renderer is shutting down');
    }
    browser.on('disconnected', () => {
      if (this.browser !== browser) return;
      this.browser = undefined;
      // Every context died with the browser; the next render of a session starts cold.
      this.contexts.clear();
      if (!this.closed) this.logger.warn('Chromium disconnected; relaunching on next use');
    });
    this.browser = browser;
    this.logger.log(`Chromium ${browser.version()} launched`);
    return browser;
  }

  private async newContext(state: StorageState | undefined): Promise<BrowserContext> {
    const browser = await this.getBrowser();
    try {
      // Downloads stay off: a page cannot write files on the renderer.
      const context = await browser.newContext({ acceptDownloads: false, ...(state ? { storageState: state } : {}) });
      context.on('page', closePopup);
      return context;
    } catch (error) {
      if (state && browser.isConnected()) {
        throw new RenderError('invalid_request', `storage_state rejected: ${describe(error)}`);
      }
      throw error;
    }
  }
}

/**
 * Pages a page opens (window.open, target=_blank) are closed at once: only the render's own
 * tab runs. Chromium reports the opener for every popup, also for noopener ones.
 */
function closePopup(page: Page): void {
  void page
    .opener()
    .then((opener) => (opener ? page.close() : undefined))
    .catch(() => undefined);
}

function describe(error: unknown): string {
  return firstLine(error instanceof Error ? error.message : String(error));
}
