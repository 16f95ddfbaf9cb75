/**
 * The client's answer to a render: the renderer's page part (a JSON object, passed through as
 * bytes) with `fields` spliced in before its closing brace, so the page is never parsed and
 * serialized again. The page part ends with `}` (decodeRenderParts checks it).
 */
export function withFields(page: Buffer, fields: object): Buffer {
  const extra = JSON.stringify(fields);
  if (extra === '{}') return page;
  const close = page.length - 1;
  const separator = page[close - 1] === 0x7b ? '' : ',';
  return Buffer.concat([page.subarray(0, close), Buffer.from(separator + extra.slice(1))]);
}
