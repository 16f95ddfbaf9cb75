/**
 * The renderer's failure kinds. Each maps to one HTTP status so that callers (the API's RPC
 * client) can branch on `kind` without parsing messages.
 */
export const RENDER_ERROR_STATUS = {
  invalid_request: 400,
  not_found: 404,
  internal: 500,
  navigation_failed: 502,
  busy: 503,
  browser_unavailable: 503,
  shutting_down: 503,
  timeout: 504,
  /** The client went away; nobody reads this answer (nginx's convention). */
  cancelled: 499,
} as const;

export type RenderErrorKind = keyof typeof RENDER_ERROR_STATUS;

export class RenderError extends Error {
  constructor(
    readonly kind: RenderErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'RenderError';
  }

  get status(): number {
    return RENDER_ERROR_STATUS[this.kind];
  }
}

/** Playwright messages carry a multi-line, ANSI-coloured call log; the first line is the useful part. */
export function firstLine(message: string): string {
  // eslint-disable-next-line no-control-regex
  return message.split('\n', 1)[0].replace(/\u001b\[[0-9;]*m/g, '').trim();
}
