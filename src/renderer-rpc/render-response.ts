import type { BrowserContext } from 'playwright-core';
import type { ActionType } from './render-action.dto';

export type StorageState = Awaited<ReturnType<BrowserContext['storageState']>>;

/** The action that failed, which stopped the rest; the page is still returned. */
export interface ActionError {
  index: number;
  type: ActionType;
  message: string;
}

/** A request of the page that the egress policy refused (`reason`: loopback, private, metadata, …). */
export interface BlockedRequest {
  url: string;
  reason: string;
}

/**
 * The rendered page: exactly the fields `POST /v1/render` answers its client (before the
 * session fields), so the API can pass these bytes through (see render-parts.ts).
 */
export interface RenderPage {
  final_url: string;
  html: string;
  screenshot_b64: string | null;
  /** The full-page screenshot was cut at RENDER_MAX_SCREENSHOT_HEIGHT_PX. */
  screenshot_clipped: boolean;
  mhtml_b64: string | null;
  /** From getting a render slot to the answer; time spent queued is not included. */
  render_time_ms: number;
  /** Type names of the actions that completed, in order. */
  actions_executed: ActionType[];
  action_error: ActionError | null;
  /** The page's requests the egress policy refused: the first 20, without repeats. */
  blocked_requests: BlockedRequest[];
}

/** `POST /render` 200 body in the plain JSON form (riptide-headless compatible). */
export interface RenderResponse extends RenderPage {
  /** The context's cookies and localStorage after the render; null without a context key. */
  storage_state: StorageState | null;
  /** storage_state's order within the context: a later snapshot has a greater number. */
  state_seq: number | null;
  /** Whether the session's context was already warm (its storage_state input then ignored). */
  context_reused: boolean;
}

/** `GET /healthz` body. */
export interface HealthResponse {
  /** Anything but ok is answered with 503. */
  status: 'ok' | 'unavailable' | 'draining';
  browser: 'connected' | 'disconnected';
  contexts: number;
  running: number;
  queued: number;
  error?: string;
}
