import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { BrowserContext, errors, Page } from 'playwright-core';
import { AppConfig } from '../config/app-config';
import type { EgressIdentity } from '../egress/egress-identity';
import type { EgressLog } from '../egress/egress-log';
import { RendererEgress } from '../egress/renderer-egress';
import type { UpstreamProxy } from '../egress/upstream-proxy';
import { runActions, scrollPage } from './actions';
import { ConcurrencyLimiter } from './concurrency-limiter';
import { ContextLease } from './context-pool';
import { Deadline } from './deadline';
import type { HealthResponse, RenderPage, RenderProxyDto, RenderRequestDto } from '../renderer-rpc';
import { BrowserService } from './browser.service';
import { ContextState, KnownState, RenderStateWatch } from './context-state';
import { EgressWatch } from './egress-watch';
import { firstLine, RenderError } from './errors';
import { captureMhtml, fullPageScreenshot, OutputBudget, pageHtml } from './page-output';
import { SessionTab } from './session-tab';

/** Extra time given to in-flight renders at shutdown, beyond their hard cap. */
const DRAIN_GRACE_MS = 1000;

/** What the renderer keeps beside a warm session context between renders. */
interface WarmContext {
  /** The parked tab; null while a render has it (or before the first render). */
  tab: SessionTab | null;
  /** The context's storage state as last restored or exported. */
  state: ContextState;
}

/** A finished render, before the controller puts it in one of the answer forms. */
export interface RenderOutcome {
  page: RenderPage;
  context_reused: boolean;
  /** The session context's storage state after the render; null without a context key. */
  state: KnownState | null;
  /** Whether the caller needs `state`: this render changed it, or it is newer than the caller's state_seq. */
  send_state: boolean;
}

@Injectable()
export class RenderService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('HeadlessRender');
  private readonly limiter: ConcurrencyLimiter;
  private draining = false;
  private readonly warm = new WeakMap<BrowserContext, WarmContext>();

  constructor(
    private readonly config: AppConfig,
    private readonly browsers: BrowserService,
    private readonly egress: RendererEgress,
  ) {
    this.limiter = new ConcurrencyLimiter(config.headless_max_concurrency, config.headless_max_queue);
  }

  /**
   * Renders one page within its hard cap. When the cap (or `cancel`) fires, the answer is
   * given at once; the page is closed, which unblocks whatever Playwright call was pending,
   * and the slot is freed as soon as that unwinds.
   */
  async render(request: RenderRequestDto, cancel?: AbortSignal): Promise<RenderOutcome> {
    if (this.draining) throw new RenderError('shutting_down', 'renderer is shutting down');
    // Checked before the queue too, so that the caller's second try (with the state) does not wait in it twice.
    if (request.state_omitted) this.checkStateOmitted(request);
    const hardCapMs = Math.min(request.timeouts?.hard_cap_ms ?? this.config.render_timeout_ms, this.config.render_timeout_ms);
    const deadline = Deadline.after(hardCapMs);
    const abort = new AbortController();
    const timer = setTimeout(
      () => abort.abort(new RenderError('timeout', `render exceeded its hard cap of ${hardCapMs} ms`)),
      hardCapMs,
    );
    const onCancel = (): void => abort.abort(cancel?.reason);
    if (cancel?.aborted) onCancel();
    else cancel?.addEventListener('abort', onCancel, { once: true });
    try {
      const release = await this.limiter.acquire(abort.signal, request.queue_key);
      const work = this.execute(request, deadline, abort.signal).finally(release);
      return await Promise.race([work, rejectOnAbort(abort.signal)]);
    } finally {
      clearTimeout(timer);
      cancel?.removeEventListener('abort', onCancel);
    }
  }

  async health(): Promise<HealthResponse> {
    const counts = { contexts: this.browsers.contextCount, running: this.limiter.running, queued: this.limiter.queued };
    // Draining: load balancers and the API's probes move on while in-flight renders finish.
    if (this.draining) return { status: 'draining', browser: this.browsers.connected ? 'connected' : 'disconnected', ...counts };
    try {
      await this.browsers.getBrowser();
      return { status: 'ok', browser: 'connected', ...counts };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return { status: 'unavailable', browser: 'disconnected', ...counts, error: message };
    }
  }

  /** Refuses new renders, then waits (bounded by the longest possible render) for in-flight ones. */
  async beforeApplicationShutdown(): Promise<void> {
    this.draining = true;
    const { running, queued } = this.limiter;
    if (running + queued === 0) return;
    this.logger.log(`draining ${running} running and ${queued} queued renders`);
    if (!(await this.limiter.whenIdle(this.config.render_timeout_ms + DRAIN_GRACE_MS))) {
      this.logger.warn('renders still running after the drain period; closing anyway');
    }
  }

  private async execute(request: RenderRequestDto, deadline: Deadline, signal: AbortSignal): Promise<RenderOutcome> {
    const started = Date.now();
    const key = request.context_key ?? null;
    let tab: SessionTab | undefined;
    let page: Page | undefined;
    const closePage = (): void => void page?.close().catch(() => undefined);
    signal.addEventListener('abort', closePage, { once: true });

    let lease: ContextLease<BrowserContext> | undefined;
    let recording: ReturnType<EgressIdentity['record']> | undefined;
    let watch: EgressWatch | undefined;
    let stateWatch: RenderStateWatch | undefined;
    let completed = false;
    try {
      const upstream = request.proxy ? await this.upstreamOf(request.proxy) : null;
      lease = key ? await this.leaseSessionContext(key, request) : await this.browsers.leaseThrowaway();
      const warm = key ? this.warmContext(lease, request) : null;
      // The tab before the egress recording: what its old page requests as it wakes is not this render's.
      if (warm) ({ tab, watch: stateWatch } = await this.takeTab(lease.context, warm));
      const egress = this.browsers.egressOf(lease.context);
      egress.route(upstream);
      recording = egress.record();
      page = tab ? tab.page : await lease.context.newPage();
      if (signal.aborted) throw signal.reason;
      watch = new EgressWatch(page, lease.context, recording.log);

      await this.navigate(page, request, deadline, watch, recording.log);
      if (request.wait_for) {
        await page.waitForSelector(request.wait_for, { state: 'attached', timeout: deadline.clamp(deadline.remaining()) });
      }
      if (request.scroll_steps) await scrollPage(page, request.scroll_steps);
      const actions = await runActions(page, request.actions ?? [], deadline);
      // A refused navigation may have happened at any point (a script, a meta refresh, an action).
      await watch.settle();
      watch.check();

      const budget = new OutputBudget(this.config.render_max_response_bytes);
      const html = await pageHtml(page, deadline, this.config.render_max_html_bytes, budget);
      const finalUrl = page.url();
      const screenshot = request.artifacts?.screenshot
        ? await fullPageScreenshot(page, deadline, this.config.render_max_screenshot_height_px, budget)
        : null;
      const mhtml = request.artifacts?.mhtml ? await captureMhtml(lease.context, page, budget) : null;
      const reading = warm && tab && stateWatch ? await warm.state.export(lease.context, tab, stateWatch) : null;
      if (reading) budget.take(reading.known.json.length, 'storage state');
      completed = !signal.aborted;

      return {
        page: {
          final_url: finalUrl,
          html,
          screenshot_b64: screenshot?.b64 ?? null,
          screenshot_clipped: screenshot?.clipped ?? false,
          mhtml_b64: mhtml,
          render_time_ms: Date.now() - started,
          actions_executed: actions.executed,
          action_error: actions.error,
          blocked_requests: recording.log.blocked(watch.refusedNavigation),
        },
        context_reused: lease.reused,
        state: reading?.known ?? null,
        // Unchanged and already the caller's: not sent again. Newer than the caller's without a
        // change here: a state the API did not keep (over its tenant's storage budget) is
        // offered again on every render until it is kept.
        send_state: reading !== null && (reading.changed || (request.state_seq ?? 0) < reading.known.seq),
      };
    } catch (error) {
      throw this.classify(error, signal, request);
    } finally {
      watch?.dispose();
      stateWatch?.dispose();
      recording?.stop();
      signal.removeEventListener('abort', closePage);
      // A page left mid-way by a failure is in an unknown state: only a clean one is parked.
      if (!(completed && lease && tab && this.park(lease.context, tab))) {
        await page?.close().catch(() => undefined);
      }
      lease?.release();
    }
  }

  /**
   * The session's context. A render that left its state out (state_omitted) runs only in a warm
   * one (its context may have been closed, idle or evicted, while it queued) whose state is not
   * older than the caller's. A warm context older than the caller's state has missed what the
   * session saved elsewhere meanwhile (its renders went to another renderer while this one was
   * out of reach, and came back): it is replaced by one restored from the caller's state.
   */
  private async leaseSessionContext(key: string, request: RenderRequestDto): Promise<ContextLease<BrowserContext>> {
    const lease = request.state_omitted
      ? await this.browsers.leaseWarmContext(key)
      : await this.browsers.leaseContext(key, request.storage_state);
    if (!lease) throw stateRequired();
    // Without the caller's state at hand, the warm context stays (as for a caller that sends none).
    if (!this.olderThanCaller(lease, request) || (!request.state_omitted && !request.storage_state)) return lease;
    lease.release();
    if (request.state_omitted) throw stateRequired();
    // In-flight renders keep the old context until they end (ContextPool.remove).
    this.browsers.closeContext(key);
    return this.browsers.leaseContext(key, request.storage_state);
  }

  /** Whether a warm context's state is older than the caller's saved one (its state_seq). */
  private olderThanCaller(lease: ContextLease<BrowserContext>, request: RenderRequestDto): boolean {
    const warm = lease.reused ? this.warm.get(lease.context) : undefined;
    return warm !== undefined && warm.state.current.seq < (request.state_seq ?? 0);
  }

  /** A render that left its state out: well-formed (else 400), and only for a warm context (else 409 state_required). */
  private checkStateOmitted(request: RenderRequestDto): void {
    if (!request.context_key || request.storage_state || !request.state_seq) {
      throw new RenderError('invalid_request', 'state_omitted needs context_key and a positive state_seq, and no storage_state');
    }
    if (!this.browsers.hasContext(request.context_key)) throw stateRequired();
  }

  /**
   * The renderer's record of a session context. A context created for this lease starts from
   * the state it was restored from, and numbers its changes on from that state's number, so
   * order holds across renderers and restarts.
   */
  private warmContext(lease: ContextLease<BrowserContext>, request: RenderRequestDto): WarmContext {
    let warm = this.warm.get(lease.context);
    if (!warm) {
      warm = { tab: null, state: ContextState.restored(request.storage_state, request.state_seq ?? 0) };
      this.warm.set(lease.context, warm);
    }
    return warm;
  }

  /**
   * The session's tab, woken, with the watch the render's state export goes by; a new tab when
   * it is gone or another render of the session has it.
   */
  private async takeTab(context: BrowserContext, warm: WarmContext): Promise<{ tab: SessionTab; watch: RenderStateWatch }> {
    const parked = warm.tab;
    warm.tab = null;
    if (parked && !parked.closed) await parked.wake();
    const tab = parked && !parked.closed ? parked : await SessionTab.open(context);
    return { tab, watch: new RenderStateWatch(tab.page, context) };
  }

  private park(context: BrowserContext, tab: SessionTab): boolean {
    const warm = this.warm.get(context);
    if (!warm || warm.tab || tab.closed) return false;
    tab.park(this.config.headless_unload_after_seconds * 1000);
    warm.tab = tab;
    return true;
  }

  /**
   * The render's upstream proxy: well-formed (else 400 naming proxy.server) and on a host the
   * egress policy allows (else 422): a tenant cannot name an internal host as its proxy.
   */
  private async upstreamOf(proxy: RenderProxyDto): Promise<UpstreamProxy> {
    const outcome = await this.egress.sessionProxy(proxy);
    if (outcome.ok) return outcome.upstream;
    throw new RenderError(outcome.problem === 'invalid' ? 'invalid_request' : 'egress_refused', outcome.message);
  }

  private async navigate(page: Page, request: RenderRequestDto, deadline: Deadline, watch: EgressWatch, log: EgressLog): Promise<void> {
    const navMs = deadline.clamp(request.timeouts?.nav_ms ?? deadline.remaining());
    try {
      await page.goto(request.url, { waitUntil: 'load', timeout: navMs });
    } catch (error) {
      if (error instanceof errors.TimeoutError) {
        throw new RenderError('timeout', `navigation to ${request.url} did not finish within ${navMs} ms`);
      }
      if (this.browsers.connected && !page.isClosed()) {
        await watch.settle();
        watch.check();
        // Through the proxy the browser only sees a closed connection; the egress layer knows why.
        const why = log.failureFor(request.url);
        throw new RenderError('navigation_failed', `${firstLine((error as Error).message)}${why ? ` (${why})` : ''}`);
      }
      throw error;
    }
    const idleMs = request.timeouts?.idle_after_dcl_ms ?? 0;
    if (idleMs > 0) {
      // Best effort: pages with polling or long-lived connections never go idle.
      await page.waitForLoadState('networkidle', { timeout: deadline.clamp(idleMs) }).catch((error: unknown) => {
        if (!(error instanceof errors.TimeoutError)) throw error;
      });
    }
  }

  /** Maps whatever a render threw to the one error kind the caller should see. */
  private classify(error: unknown, signal: AbortSignal, request: RenderRequestDto): RenderError {
    // Once aborted, any failure is a consequence of closing the page, not its cause.
    if (signal.aborted) return signal.reason as RenderError;
    if (error instanceof RenderError) return error;
    if (!this.browsers.connected) return new RenderError('browser_unavailable', 'Chromium disconnected during the render');
    const message = firstLine(error instanceof Error ? error.message : String(error));
    if (error instanceof errors.TimeoutError) {
      return new RenderError('timeout', request.wait_for ? `wait_for "${request.wait_for}": ${message}` : message);
    }
    return new RenderError('internal', message);
  }
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

const stateRequired = (): RenderError =>
  new RenderError('state_required', 'no warm context for context_key: send the request again with its storage_state');
