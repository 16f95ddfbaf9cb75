import type { BrowserContext } from 'playwright-core';
import type { ActionError } from '../actions';
import type { ActionType } from './render-action.dto';

export type StorageState = Awaited<ReturnType<BrowserContext['storageState']>>;

/** `POST /render` 200 body. */
export interface RenderResponse {
  final_url: string;
  html: string;
  screenshot_b64: string | null;
  mhtml_b64: string | null;
  /** The same artifacts again, in riptide-headless's nested shape. */
  artifacts: { screenshot_b64: string | null; mhtml_b64: string | null };
  session_id: string | null;
  /** From getting a render slot to the answer; time spent queued is not included. */
  render_time_ms: number;
  /** Type names of the actions that completed, in order. */
  actions_executed: ActionType[];
  action_error: ActionError | null;
  /** The session context's cookies and localStorage after the render; null without a session. */
  storage_state: StorageState | null;
  /** Whether the session's context was already warm (its storage_state input then ignored). */
  context_reused: boolean;
}

/** Error body for every non-2xx answer of the renderer. */
export interface RenderErrorResponse {
  error: string;
  kind: string;
  request_id: string;
  duration_ms: number;
}

/** `GET /healthz` body. */
export interface HealthResponse {
  status: 'ok' | 'unavailable';
  browser: 'connected' | 'disconnected';
  contexts: number;
  running: number;
  queued: number;
  error?: string;
}
