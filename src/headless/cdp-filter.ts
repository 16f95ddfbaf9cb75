/**
 * What the renderer does with each CDP command a client sends to its session's browser. The
 * browser is the session's alone (see SessionBrowser), so isolation from other sessions needs
 * no filtering; these rules keep the renderer's own policies: downloads off, traffic through
 * the renderer's egress path, no local files, and `Browser.close` ending only this session.
 */

/** A client's CDP command (flattened protocol: `sessionId` names the target session). */
export interface CdpCommand {
  id: number;
  method: string;
  params?: Record<string, unknown>;
  sessionId?: string;
}

export type CdpVerdict =
  /**
   * Send it to the browser as parsed (never the raw bytes, so both sides read the same JSON),
   * with `params` in place of the client's when given.
   */
  | { kind: 'forward'; params?: Record<string, unknown> }
  /** Answer it here with an empty result, without sending it on. */
  | { kind: 'ignore' }
  /** Answer it here with a CDP error. */
  | { kind: 'refuse'; message: string }
  /** Answer it, then end this session's browser (its state is saved). */
  | { kind: 'close' };

/** CDP's "server error" code, which clients surface as the command's failure. */
export const CDP_REFUSED_CODE = -32000;

const FORWARD: CdpVerdict = { kind: 'forward' };

/** Where the session browser's traffic must go: its egress listener, loopback not bypassed. */
export interface CdpEgress {
  proxyServer: string;
  proxyBypassList: string;
}

/** Commands naming a URL the browser would load at the top level. */
const NAVIGATIONS: Readonly<Record<string, string>> = {
  'Page.navigate': 'url',
  'Target.createTarget': 'url',
};

/** http(s), plus the blank page clients open tabs with; never file:, chrome:, data: … */
export function navigable(url: unknown): boolean {
  if (typeof url !== 'string') return false;
  if (url === '' || url === 'about:blank') return true;
  try {
    const { protocol } = new URL(url);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

export function judgeCdpCommand(command: CdpCommand, egress: CdpEgress): CdpVerdict {
  const params = command.params ?? {};
  switch (command.method) {
    case 'Browser.close':
      return { kind: 'close' };
    // Playwright's connect sends these; downloads stay off whatever the client asks.
    case 'Browser.setDownloadBehavior':
    case 'Page.setDownloadBehavior':
      return { kind: 'ignore' };
    // A context of the client's goes through the session's egress listener like the default
    // one: its own proxy settings (`direct://` included) would step around the egress policy.
    case 'Target.createBrowserContext':
      if (params.proxyServer !== undefined || params.proxyBypassList !== undefined) {
        return { kind: 'refuse', message: "per-context proxies are not allowed: the session's egress path applies to every context" };
      }
      return { kind: 'forward', params: { ...params, ...egress } };
    // Files on the renderer are not the client's to upload into a page.
    case 'DOM.setFileInputFiles':
      return { kind: 'refuse', message: 'DOM.setFileInputFiles is not allowed: files on the renderer are not yours' };
    // A crash would skip saving the session's state; Browser.close is the way to end it.
    case 'Browser.crash':
    case 'Browser.crashGpuProcess':
      return { kind: 'refuse', message: `${command.method} is not allowed: use Browser.close` };
    default: {
      const field = NAVIGATIONS[command.method];
      if (field !== undefined && params[field] !== undefined && !navigable(params[field])) {
        return { kind: 'refuse', message: `${command.method}: only http(s) URLs may be opened` };
      }
      return FORWARD;
    }
  }
}

/** Parses one client message; null when it is not a CDP command this side can judge. */
export function parseCdpCommand(data: string): CdpCommand | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return null;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
  const { id, method, params, sessionId } = parsed as Record<string, unknown>;
  if (!Number.isSafeInteger(id) || typeof method !== 'string') return null;
  if (params !== undefined && (params === null || typeof params !== 'object' || Array.isArray(params))) return null;
  if (sessionId !== undefined && typeof sessionId !== 'string') return null;
  return parsed as CdpCommand;
}
