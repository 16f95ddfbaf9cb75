/** Headers that belong to one hop (RFC 9110 §7.6.1), plus the proxy's own: never passed on. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * A raw header list (name, value, name, value …) without hop-by-hop headers and without the
 * ones the Connection header names. Node re-frames the body (chunked or content-length) itself.
 */
export function endToEndHeaders(raw: readonly string[]): string[] {
  const named = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].toLowerCase() === 'connection') raw[i + 1].split(',').forEach((n) => named.add(n.trim().toLowerCase()));
  }
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (!HOP_BY_HOP.has(name) && !named.has(name)) kept.push(raw[i], raw[i + 1]);
  }
  return kept;
}
