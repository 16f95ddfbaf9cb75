/**
 * The renderer's failure kinds. Each maps to one HTTP status so that the API's RPC client can
 * branch on `kind` without parsing messages.
 */
export const RENDER_ERROR_STATUS = {
  invalid_request: 400,
  unauthorized: 401,
  not_found: 404,
  /** The egress policy refused the page itself (its first URL, a redirect, a script or a meta refresh). */
  egress_refused: 422,
  /**
   * Not a failure: the request left its storage state out (state_omitted) and this renderer has
   * no warm context for its key, so nothing was run; the caller sends it again with the state.
   */
  state_required: 409,
  internal: 500,
  navigation_failed: 502,
  /** The page's HTML or the whole answer is over its configured cap (the message names it). */
  output_too_large: 502,
  busy: 503,
  browser_unavailable: 503,
  shutting_down: 503,
  timeout: 504,
  /** The client went away; nobody reads this answer (nginx's convention). */
  cancelled: 499,
} as const;

export type RenderErrorKind = keyof typeof RENDER_ERROR_STATUS;

/** Error body for every non-2xx answer of the renderer. */
export interface RenderErrorResponse {
  error: string;
  /** A RenderErrorKind, or a framework refusal (payload_too_large, http_error, ...). */
  kind: string;
  request_id: string;
  duration_ms: number;
}

/** Kinds with which a renderer refuses work it has not started: another renderer may take it. */
const NOT_STARTED_KINDS: ReadonlySet<string> = new Set<RenderErrorKind>(['busy', 'shutting_down', 'browser_unavailable']);

/**
 * Whether a renderer's error answer refused the work before starting it, so that the next
 * renderer may be tried: one of the not-started kinds, or a 503 without any kind. That one is
 * the renderer's framework answering for it once it has begun to close (Fastify's
 * return503OnClosing, for a request on a keep-alive connection that was busy when the drain
 * ended), before any handler ran; every answer of the renderer's own carries a kind.
 */
export function refusedBeforeStart(status: number, kind: string | undefined): boolean {
  return kind === undefined ? status === 503 : NOT_STARTED_KINDS.has(kind);
}
