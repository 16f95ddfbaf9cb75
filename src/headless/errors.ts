import { RENDER_ERROR_STATUS, RenderErrorKind } from '../renderer-rpc';

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
