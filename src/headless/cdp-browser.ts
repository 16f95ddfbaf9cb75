import { ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, BrowserContext, CDPSession, chromium } from 'playwright-core';
import type { StorageState } from '../renderer-rpc';
import { CHROMIUM_ARGS } from './browser.service';
import { RenderError } from './errors';

const DEVTOOLS_LINE = /DevTools listening on (ws:\/\/\S+)/;
const EXIT_WAIT_MS = 5000;

export interface SessionBrowserOptions {
  chromiumPath: string;
  launchTimeoutMs: number;
  /** Flags beyond CHROMIUM_ARGS (the egress proxy, when there is one). */
  extraArgs?: readonly string[];
}

/**
 * One Chromium process for one CDP connection: a session's own browser, so a client sees no
 * other session's pages, targets, contexts or cookies through any CDP session it opens — by
 * construction, not by filtering every domain. It listens for CDP on a random loopback port
 * (the renderer proxies the client to it) and runs from a fresh user-data dir removed at close.
 *
 * The renderer keeps its own Playwright connection to it (the keeper): it restores the
 * session's state into the default context before the client arrives, follows the origins the
 * default context visits (Playwright tracks them for storageState), keeps downloads denied, and
 * reads the final state after the client is gone.
 */
export class SessionBrowser {
  private exited: Promise<void>;

  private constructor(
    private readonly process: ChildProcess,
    private readonly userDataDir: string,
    readonly wsEndpoint: string,
    private readonly keeper: Browser,
    private readonly control: CDPSession,
  ) {
    this.exited = new Promise((resolve) => {
      if (process.exitCode !== null || process.signalCode !== null) resolve();
      else process.once('exit', () => resolve());
    });
  }

  static async launch(options: SessionBrowserOptions): Promise<SessionBrowser> {
    const userDataDir = await mkdtemp(join(tmpdir(), 'riptide-cdp-'));
    const child = spawn(
      options.chromiumPath,
      [
        ...CHROMIUM_ARGS,
        ...(options.extraArgs ?? []),
        '--headless',
        '--remote-debugging-address=127.0.0.1',
        '--remote-debugging-port=0',
        `--user-data-dir=${userDataDir}`,
        '--password-store=basic',
        '--use-mock-keychain',
        'about:blank',
      ],
      // Its own process group, so that closing kills its helper processes with it.
      { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
    );
    try {
      const wsEndpoint = await devtoolsEndpoint(child, options.launchTimeoutMs);
      const keeper = await chromium.connectOverCDP(wsEndpoint, { timeout: options.launchTimeoutMs });
      const control = await keeper.newBrowserCDPSession();
      const browser = new SessionBrowser(child, userDataDir, wsEndpoint, keeper, control);
      await browser.denyDownloads();
      return browser;
    } catch (error) {
      killGroup(child);
      await rm(userDataDir, { recursive: true, force: true });
      throw error instanceof RenderError
        ? error
        : new RenderError('browser_unavailable', `cannot start a CDP browser: ${(error as Error).message}`);
    }
  }

  get connected(): boolean {
    return this.keeper.isConnected();
  }

  /** Called once when the browser process goes away (closed, crashed or killed). */
  onExit(listener: () => void): void {
    void this.exited.then(listener);
  }

  /** Puts the session's cookies and localStorage into the default context. */
  async restore(state: StorageState): Promise<void> {
    await this.defaultContext().setStorageState(state);
  }

  /**
   * Downloads stay off, in the default context (no id) or one the client created: a page
   * cannot write files on the renderer, whatever the client asked for.
   */
  async denyDownloads(browserContextId?: string): Promise<void> {
    await this.control.send('Browser.setDownloadBehavior', {
      behavior: 'deny',
      ...(browserContextId ? { browserContextId } : {}),
    });
  }

  /**
   * The default context's cookies and localStorage. The contexts the client created are its
   * scratch space: they are disposed first, so none of their pages' storage is read (the
   * keeper attributes pages of contexts it did not create to the default context).
   */
  async snapshot(): Promise<StorageState> {
    const { browserContextIds } = await this.control.send('Target.getBrowserContexts');
    await Promise.all(
      browserContextIds.map((browserContextId) =>
        this.control.send('Target.disposeBrowserContext', { browserContextId }).catch(() => undefined),
      ),
    );
    return this.defaultContext().storageState();
  }

  /** The URL of the default context's first http(s) page, if any: what the session last showed. */
  pageUrl(): string | null {
    const url = this.keeper.contexts()[0]?.pages().map((page) => page.url()).find((u) => /^https?:/.test(u));
    return url ?? null;
  }

  /** Ends the process and removes its profile. Never throws. */
  async close(): Promise<void> {
    await this.keeper.close().catch(() => undefined);
    killGroup(this.process);
    await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, EXIT_WAIT_MS).unref())]);
    await rm(this.userDataDir, { recursive: true, force: true }).catch(() => undefined);
  }

  private defaultContext(): BrowserContext {
    const [context] = this.keeper.contexts();
    if (!context) throw new RenderError('browser_unavailable', 'the CDP browser has no default context');
    return context;
  }
}

/** Waits for Chromium's "DevTools listening on ws://…" line. */
function devtoolsEndpoint(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => fail(new Error(`no DevTools endpoint within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      seen = (seen + chunk.toString('utf8')).slice(-4096);
      const found = DEVTOOLS_LINE.exec(seen);
      if (found) {
        cleanup();
        // Chromium keeps writing to stderr; it must not block on a full pipe.
        child.stderr?.resume();
        resolve(found[1]);
      }
    };
    const onExit = (code: number | null): void => fail(new Error(`Chromium exited (${code}) before listening`));
    const fail = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', fail);
    };
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', fail);
  });
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}
