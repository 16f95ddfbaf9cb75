import type { BrowserContext, CDPSession, Frame, Page } from 'playwright-core';
import type { SessionTab } from './session-tab';
import type { StorageState } from '../renderer-rpc';
import { canonicalState, mergeLocalStorage, sortCookies, StorageItem } from './storage-state';

/**
 * What a session tab's page did during a render that the cheap export cannot see by reading its
 * live frames (between renders the tab is frozen, see SessionTab).
 */
export class RenderStateWatch {
  /** http(s) origins whose documents ran in the page's frames, committed while watched. */
  private readonly committed = new Set<string>();
  private popup = false;
  private readonly onNavigated = (frame: Frame): void => {
    const origin = httpOrigin(frame.url());
    if (origin) this.committed.add(origin);
  };
  private readonly onPage = (): void => {
    this.popup = true;
  };

  constructor(
    private readonly page: Page,
    private readonly context: BrowserContext,
  ) {
    page.on('framenavigated', this.onNavigated);
    context.on('page', this.onPage);
  }

  /**
   * Whether reading the live frames would miss a change: an origin the render committed is no
   * longer live (a script redirect through it, a removed iframe) and may have written its
   * localStorage, or a popup ran (it is closed at once, but may have run a script first).
   */
  missesChanges(live: { has(origin: string): boolean }): boolean {
    if (this.popup) return true;
    for (const origin of this.committed) if (!live.has(origin)) return true;
    return false;
  }

  dispose(): void {
    this.page.off('framenavigated', this.onNavigated);
    this.context.off('page', this.onPage);
  }
}

/** A storage state in canonical form (see canonicalState), its JSON, and its order number. */
export interface KnownState {
  readonly state: StorageState;
  readonly json: string;
  readonly seq: number;
}

export interface StateReading {
  known: KnownState;
  changed: boolean;
}

/**
 * What the renderer knows of a warm session context's storage state: the state it was
 * restored from or last exported (the plain answer form sends the object, the parts form the
 * JSON, which is also what "unchanged" compares), numbered one more with every change.
 */
export class ContextState {
  private exporting: Promise<unknown> = Promise.resolve();

  private constructor(private known: KnownState) {}

  /** A new context's state: the restored one (numbered `seq`, the request's state_seq), or none. */
  static restored(state: StorageState | undefined, seq: number): ContextState {
    const canonical = canonicalState(state ?? { cookies: [], origins: [] });
    return new ContextState({ state: canonical, json: JSON.stringify(canonical), seq });
  }

  get current(): KnownState {
    return this.known;
  }

  /**
   * Reads the state after a render: the state then known, and whether this reading changed it
   * (its seq then grew).
   * Cookies come over CDP (one call, no page opened) and localStorage from the origins live in
   * the render's page (over CDP too: no page script runs, so a page cannot stall or fake the
   * read), merged into the known state. When the watch saw something that reading live frames
   * would miss, Playwright's full storageState() (which opens a page per origin) reads it all.
   * Exports of one context run one at a time, so a greater seq is always a later reading.
   */
  export(context: BrowserContext, tab: SessionTab, watch: RenderStateWatch): Promise<StateReading> {
    const run = this.exporting.then(() => this.read(context, tab, watch));
    this.exporting = run.catch(() => undefined);
    return run;
  }

  private async read(context: BrowserContext, tab: SessionTab, watch: RenderStateWatch): Promise<StateReading> {
    const live = liveOrigins(tab.page);
    const next =
      (!watch.missesChanges(live) && (await this.readLive(context, tab, live).catch(() => null))) ||
      canonicalState(await context.storageState());
    const json = JSON.stringify(next);
    if (json === this.known.json) return { known: this.known, changed: false };
    this.known = { state: next, json, seq: this.known.seq + 1 };
    return { known: this.known, changed: true };
  }

  /**
   * Cookies over CDP, and the localStorage of the origins live in the page's frames: through the
   * page's CDP session, or for an origin live only in a frame of another site (out of process,
   * which the page's session cannot read: "Frame not found for the given storage id") through
   * that frame's own.
   */
  private async readLive(context: BrowserContext, tab: SessionTab, live: ReadonlyMap<string, Frame>): Promise<StorageState> {
    const session = await tab.session();
    const origins = [...live.keys()];
    const read = (origin: string): Promise<StorageItem[]> =>
      localStorageOf(session, origin).catch(() => localStorageInFrame(context, live.get(origin)!, origin));
    const [cookies, ...items] = await Promise.all([context.cookies(), ...origins.map(read)]);
    return {
      cookies: sortCookies(cookies),
      origins: mergeLocalStorage(this.known.state.origins, new Map(origins.map((origin, i) => [origin, items[i]]))),
    };
  }
}

/** The http(s) origins of the page's frames now, each with a frame showing it (about:blank, data: and other opaque ones left out). */
function liveOrigins(page: Page): Map<string, Frame> {
  const origins = new Map<string, Frame>();
  for (const frame of page.frames()) {
    const origin = httpOrigin(frame.url());
    if (origin && !origins.has(origin)) origins.set(origin, frame);
  }
  return origins;
}

function httpOrigin(url: string): string | null {
  if (!url.startsWith('http:') && !url.startsWith('https:')) return null;
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}

/**
 * An origin's localStorage, first-party (unpartitioned), as Playwright's storageState() reads
 * it for an origin it visits and as newContext({ storageState }) restores it.
 */
async function localStorageOf(session: CDPSession, origin: string): Promise<StorageItem[]> {
  const { entries } = await session.send('DOMStorage.getDOMStorageItems', { storageId: { securityOrigin: origin, isLocalStorage: true } });
  return entries.map(([name, value]) => ({ name, value }));
}

/** An origin's localStorage read through the CDP session of a frame running out of process. */
async function localStorageInFrame(context: BrowserContext, frame: Frame, origin: string): Promise<StorageItem[]> {
  const session = await context.newCDPSession(frame);
  try {
    return await localStorageOf(session, origin);
  } finally {
    await session.detach().catch(() => undefined);
  }
}
