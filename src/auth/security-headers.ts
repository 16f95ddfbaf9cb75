import type { FastifyReply } from 'fastify';

/** Applied to every response. */
const ALWAYS: ReadonlyArray<readonly [string, string]> = [
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'DENY'],
  ['referrer-policy', 'no-referrer'],
];
/** The API serves JSON and text only: nothing may load, run or frame it. */
const CSP: readonly [string, string] = ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"];
/** Session data must not be kept by a browser or a shared cache. */
const NO_STORE: readonly [string, string] = ['cache-control', 'no-store'];

/**
 * Sets the security headers for a request URL; called from the app's one callback-style
 * `onRequest` hook (app.setup.ts), so they are on every answer, errors and 404s included.
 * `/docs*` (Swagger UI and its document) gets no CSP: the UI runs scripts and styles.
 */
export function setSecurityHeaders(url: string, reply: FastifyReply): void {
  for (const [name, value] of ALWAYS) reply.header(name, value);
  if (!url.startsWith('/docs')) reply.header(CSP[0], CSP[1]);
  if (url.startsWith('/v1/') || url === '/v1' || url.startsWith('/v1?')) reply.header(NO_STORE[0], NO_STORE[1]);
}
