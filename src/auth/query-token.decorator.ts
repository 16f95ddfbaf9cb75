import { SetMetadata } from '@nestjs/common';

/** Metadata key read by the API-key guard. */
export const QUERY_TOKEN_KEY = 'riptide:query-token';

/**
 * Lets a route take the API key as `?token=<key>` too, for WebSocket clients that cannot set
 * headers (the CDP route only). A header key still wins. The request log never shows the query
 * value (see redactToken).
 */
export const QueryTokenAccepted = (): MethodDecorator => SetMetadata(QUERY_TOKEN_KEY, true);

/** A URL as it may be logged: a `token` query parameter's value replaced. */
export const redactToken = (url: string): string =>
  // Checked first: a URL without a query (nearly every request) is logged as it is, without a regex pass.
  url.includes('?') ? url.replace(/([?&]token=)[^&#]*/gi, '$1[redacted]') : url;
