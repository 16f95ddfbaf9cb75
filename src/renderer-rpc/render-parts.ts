import type { RenderPage } from './render-response';

/**
 * The second form of a `POST /render` 200 answer, for the API: the page travels as the bytes
 * the API's client receives, and the browser state apart from it, so the API parses neither.
 *
 * Asked for with `Accept: application/vnd.riptide.render-parts`; without it the renderer
 * answers the plain JSON RenderResponse (riptide-headless compatible). The answer has that
 * content type and a `Riptide-Part-Lengths: <meta bytes>,<state bytes>` header; its body is
 *
 *   meta ‖ state ‖ page
 *
 * - meta: JSON RenderPartsMeta (small: what the API records on the session);
 * - state: the context's storage state as JSON text (Playwright's storageState shape), or
 *   nothing (0 bytes) when the renderer did not send it: unchanged since the state whose
 *   order number the request's `state_seq` named;
 * - page: JSON RenderPage, exactly the client-facing fields of `POST /v1/render`.
 *
 * Error answers (non-200) are the plain JSON RenderErrorResponse in both forms.
 */
export const RENDER_PARTS_TYPE = 'application/vnd.riptide.render-parts';
export const RENDER_PART_LENGTHS_HEADER = 'riptide-part-lengths';

export interface RenderPartsMeta {
  final_url: string;
  render_time_ms: number;
  /** The order number of the context's current state (sent or not); null without a context key. */
  state_seq: number | null;
  context_reused: boolean;
}

export interface RenderParts {
  meta: RenderPartsMeta;
  /** The storage state's JSON text; null when it was not sent. */
  state: string | null;
  /** RenderPage as JSON bytes. */
  page: Buffer;
}

/** A parts answer that does not add up: the API answers 502 with this message. */
export class RenderPartsError extends Error {}

/** Whether an Accept header asks for the parts form (parameters and q-values are not weighed). */
export function acceptsRenderParts(accept: string | undefined): boolean {
  return accept !== undefined && accept.split(',').some((range) => range.split(';', 1)[0].trim().toLowerCase() === RENDER_PARTS_TYPE);
}

export function encodeRenderParts(meta: RenderPartsMeta, state: string | null, page: RenderPage): { body: Buffer; lengths: string } {
  const metaJson = JSON.stringify(meta);
  const stateJson = state ?? '';
  // One UTF-8 encoding of the whole answer; only the two small leading parts are measured apart.
  return {
    body: Buffer.from(metaJson + stateJson + JSON.stringify(page)),
    lengths: `${Buffer.byteLength(metaJson)},${Buffer.byteLength(stateJson)}`,
  };
}

/** Splits a parts answer; only meta is parsed. @throws RenderPartsError when it does not add up. */
export function decodeRenderParts(body: Buffer, lengths: string | string[] | undefined): RenderParts {
  const match = typeof lengths === 'string' ? /^(\d{1,10}),(\d{1,10})$/.exec(lengths) : null;
  if (!match) throw new RenderPartsError(`renderer answer without a valid ${RENDER_PART_LENGTHS_HEADER} header`);
  const metaEnd = Number(match[1]);
  const stateEnd = metaEnd + Number(match[2]);
  if (stateEnd + 2 > body.length) throw new RenderPartsError('renderer answer is shorter than its parts');
  const meta = parseMeta(body.toString('utf8', 0, metaEnd));
  const page = body.subarray(stateEnd);
  if (page[0] !== 0x7b || page[page.length - 1] !== 0x7d) throw new RenderPartsError('renderer answer page part is not a JSON object');
  const state = stateEnd > metaEnd ? body.toString('utf8', metaEnd, stateEnd) : null;
  if (state !== null && !(meta.state_seq !== null && meta.state_seq > 0)) {
    throw new RenderPartsError('renderer answer has a state without a positive state_seq');
  }
  return { meta, state, page };
}

function parseMeta(text: string): RenderPartsMeta {
  let meta: Partial<RenderPartsMeta> | null;
  try {
    meta = JSON.parse(text) as Partial<RenderPartsMeta> | null;
  } catch {
    throw new RenderPartsError('renderer answer meta part is not JSON');
  }
  const seq = meta?.state_seq;
  if (
    typeof meta?.final_url !== 'string' ||
    typeof meta.render_time_ms !== 'number' ||
    typeof meta.context_reused !== 'boolean' ||
    !(seq === null || (Number.isSafeInteger(seq) && (seq as number) >= 0))
  ) {
    throw new RenderPartsError('renderer answer meta part lacks final_url, render_time_ms, state_seq or context_reused');
  }
  return meta as RenderPartsMeta;
}
