import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Browser, BrowserContext, chromium, Page } from 'playwright-core';
import { AppConfig } from '../config/app-config';
import { EgressIdentity } from '../egress/egress-identity';
import { RendererEgress } from '../egress/renderer-egress';
import { ContextLease, ContextPool } from './context-pool';
import type { StorageState } from '../renderer-rpc';
import { firstLine, RenderError } from './errors';
import { NAVIGATION_PROBE_SCRIPT } from './navigation-probe';

/** Hardening flags of every Chromium the renderer starts (the shared one and per-session CDP ones). */
const HARDENING_ARGS = [
  '--no-sandbox', // the renderer commonly runs as root in a container, where the sandbox cannot start
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
  // Egress (DESIGN §5): everything the browser sends must go through the egress proxy. QUIC
  // (UDP) would not, nor would WebRTC's direct UDP: only proxied (TCP, through CONNECT) remains.
  '--disable-quic',
  '--force-webrtc-ip-handling-policy=disable_non_proxied_udp',
  '--webrtc-ip-handling-policy=disable_non_proxied_udp',
];
/**
 * Chromium features off in every Chromium the renderer starts. Headless Chromium opens a window
 * for every browser context, and every window loads its address bar's popups (WebUI pages:
 * chrome://omnibox-popup.top-chrome/ and its AI-mode twin) into a renderer process of their own,
 * which nobody ever sees: with them, a warm session cost two renderer processes (its tab and
 * that one) and ~60 MB; without, one (bench P9).
 */
const FEATURES_OFF = ['WebUIOmniboxPopup', 'WebUIOmniboxAimPopup'];
/**
 * Playwright's own `--disable-features` list (playwright-core 1.65), which it puts before the
 * caller's flags. Chromium reads only the last `--disable-features`, so the shared browser's
 * flag repeats Playwright's list; test/chromium-flags.e2e-spec.ts fails if Playwright's grows.
 */
const PLAYWRIGHT_FEATURES_OFF = [
  'AvoidUnnecessaryBeforeUnloadCheckSync',
  'DestroyProfileOnBrowserClose',
  'HttpsUpgrades',
  'HttpsFirstBalancedModeAutoEnable',
  'LensOverlay',
  'MediaRouter',
  'PaintHolding',
  'ThirdPartyStoragePartitioning',
  'AvoidCorsURLLoaderRestartOnRedirect',
  'TcpPortRandomizationWin',
  'OptimizationHints',
  'NetworkTimeServiceQuerying',
  'AimEnabled',
  'PreconnectToSearch',
  'msForceBrowserSignIn',
  'msEdgeUpdateLaunchServicesPreferredVersion',
];
/**
 * Chromium features off in the shared browser only, which holds a browser context per warm
 * session. Chromium keeps one spare renderer process ready for the browser context that
 * navigated last, and a navigation in any other context kills it and starts a new one for that
 * context: with sessions rendering at once (or one after another) every navigation (the parking
 * of a tab on about:blank, as the renderer then parked every tab, included) started and ended a
 * renderer process — about two per render at concurrency 4, which cost more Chromium CPU than the renders
 * (bench/analysis/p9-churn.js). The spare never serves a sessionless render either (its context
 * is new). A per-session CDP browser keeps it: it has one client and usually one context.
 */
const SHARED_FEATURES_OFF = ['SpareRendererForSitePerProcess'];
const disableFeatures = (features: readonly string[]): string => `--disable-features=${features.join(',')}`;

/** The flags of the per-session CDP browsers, which the renderer starts itself. */
export const CHROMIUM_ARGS = [...HARDENING_ARGS, disableFeatures(FEATURES_OFF)];
/** The flags of the shared Chromium, which Playwright launches (after its own). */
export const PLAYWRIGHT_LAUNCH_ARGS = [
  ...HARDENING_ARGS,
  disableFeatures([...PLAYWRIGHT_FEATURES_OFF, ...FEATURES_OFF, ...SHARED_FEATURES_OFF]),
];
/**
 * Proxy bypass list: nothing bypasses the egress proxy, loopback included. Chromium bypasses
 * loopback implicitly; `<-loopback>` turns that off (Playwright adds it too, unless an
 * environment variable says otherwise: stated here so the fence does not depend on that).
 */
export const BYPASS_NOTHING = '<-loopback>';
const LAUNCH_TIMEOUT_MS = 30_000;

/**
 * Owns the one Chromium process (launched on first use, relaunched after a crash) and the
 * warm per-session contexts in it.
 *
 * Egress: every context gets its own egress proxy listener (an EgressIdentity) as its proxy
 * server, so the proxy knows which context — and so which render — a connection belongs to, and
 * which upstream proxy to chain to. The launch-level proxy (`--proxy-server`) is one more
 * listener, the default for anything outside our contexts (the default context, the browser's
 * own requests). Neither is the fence by itself: Chromium lets a CDP client create a context
 * with a proxy of its own (Target.createBrowserContext's proxyServer, `direct://` included).
 * The fence is that nobody but this service speaks CDP to this browser. The browsers handed
 * to CDP clients (SessionBrowser) keep it by filtering the client's messages (judgeCdpCommand):
 * every Target.createBrowserContext gets proxyServer = the session's egress listener and
 * proxyBypassList = `<-loopback>` (one asking for a proxy of its own, `direct://` included, is
 * refused), and the browser is launched with that listener as its `--proxy-server`.
 * The Kubernetes NetworkPolicy denying the renderer private ranges stays the second fence.
 */
@Injectable()
export class BrowserService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('HeadlessBrowser');
  private browser?: Browser;
  /** The launch-level egress listener of the running browser. */
  private browserEgress?: EgressIdentity;
  private readonly egressOfContext = new WeakMap<BrowserContext, EgressIdentity>();
  private launching?: Promise<Browser>;
  private readonly contexts: ContextPool<BrowserContext, StorageState>;
  private sweeper?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly config: AppConfig,
    private readonly egress: RendererEgress,
  ) {
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

  /** The warm context of a context key; null, creating none, when it has none. */
  leaseWarmContext(key: string): Promise<ContextLease<BrowserContext> | null> {
    return this.contexts.leaseWarm(key);
  }

  hasContext(key: string): boolean {
    return this.contexts.has(key);
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

  /** The egress identity of a context this service created: its proxy listener. */
  egressOf(context: BrowserContext): EgressIdentity {
    const identity = this.egressOfContext.get(context);
    if (!identity) throw new RenderError('internal', 'browser context without an egress identity');
    return identity;
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
    await this.closeBrowserEgress();
  }

  private async closeBrowserEgress(): Promise<void> {
    const identity = this.browserEgress;
    this.browserEgress = undefined;
    await identity?.close();
  }

  private async launch(): Promise<Browser> {
    let browser: Browser;
    await this.closeBrowserEgress();
    const identity = await this.egress.openIdentity('browser');
    this.browserEgress = identity;
    try {
      browser = await chromium.launch({
        executablePath: this.config.chromium_path,
        headless: true,
        args: PLAYWRIGHT_LAUNCH_ARGS,
        proxy: { server: identity.server, bypass: BYPASS_NOTHING },
        timeout: LAUNCH_TIMEOUT_MS,
        // Playwright would kill Chromium on these signals before in-flight renders could drain;
        // the application's shutdown hooks close it instead (and Playwright still kills it on exit).
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
      });
    } catch (error) {
      await this.closeBrowserEgress();
      this.logger.error(`cannot launch Chromium at ${this.config.chromium_path}: ${describe(error)}`);
      throw new RenderError('browser_unavailable', `cannot launch Chromium at ${this.config.chromium_path}`);
    }
    if (this.closed) {
      await browser.close();
      await this.closeBrowserEgress();
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
    const identity = await this.egress.openIdentity('context');
    try {
      const context = await browser.newContext({
        // Downloads stay off: a page cannot write files on the renderer.
        acceptDownloads: false,
        // No proxy credentials here: with them Playwright would route every request through
        // the Fetch domain to answer the challenge, which is slow. The listener needs none.
        proxy: { server: identity.server, bypass: BYPASS_NOTHING },
        ...(state ? { storageState: state } : {}),
      });
      this.egressOfContext.set(context, identity);
      context.on('close', () => void identity.close());
      await context.addInitScript(NAVIGATION_PROBE_SCRIPT);
      context.on('page', closePopup);
      return context;
    } catch (error) {
      await identity.close();
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
