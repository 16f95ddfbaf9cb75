import type { FastifyServerOptions } from 'fastify';
import type { AppConfig } from '../config/app-config';

/**
 * Slow-client cut-offs for a listener (the API's and the renderer's alike): a client that has
 * not sent complete headers after HTTP_HEADERS_TIMEOUT_MS, or a complete request after
 * HTTP_REQUEST_TIMEOUT_MS, is cut off, so slow clients cannot hold sockets. Node checks these
 * deadlines every `connectionsCheckingInterval`, so that interval bounds how late the cut comes.
 * There is deliberately no idle-socket timeout: a render may keep its connection silent for
 * as long as RENDER_TIMEOUT_MS while the answer is computed.
 */
export function httpTimeouts(
  config: Pick<AppConfig, 'http_headers_timeout_ms' | 'http_request_timeout_ms'>,
): Pick<FastifyServerOptions, 'requestTimeout'> & { http: object } {
  const headersTimeout = config.http_headers_timeout_ms;
  const requestTimeout = config.http_request_timeout_ms;
  return {
    requestTimeout,
    http: {
      headersTimeout,
      requestTimeout,
      connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(headersTimeout / 4))),
    },
  };
}
