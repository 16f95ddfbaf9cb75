import { isoTimestamp as iso } from '../../common/iso-time';
import { percentiles, remainingRequests, Session } from '../session';
import type { SessionMetrics } from '../session.store';

/**
 * The wire form of a session (DESIGN §2). Neither its incarnation nor its proxy's password is
 * ever shown: the proxy appears as { server, username? }, and only when the session has one.
 */
export function toSessionResponse(session: Session) {
  const { config } = session;
  const [p50, p95, p99] = percentiles(session.renderTimes, [0.5, 0.95, 0.99]);
  const proxy = config.proxy && {
    server: config.proxy.server,
    ...(config.proxy.username !== undefined && { username: config.proxy.username }),
  };
  return {
    session_id: session.id,
    created_at: iso(session.createdAt),
    last_accessed: iso(session.lastAccessed),
    expires_at: iso(session.expiresAt),
    config: {
      ttl_seconds: config.ttlSeconds,
      auto_renew: config.autoRenew,
      max_requests: config.maxRequests,
      track_metrics: config.trackMetrics,
      ...(proxy && { proxy }),
    },
    state: {
      request_count: session.requestCount,
      error_count: session.errorCount,
      last_url: session.lastUrl,
      last_error: session.lastError,
      total_render_time_ms: session.totalRenderTimeMs,
      avg_render_time_ms: session.renderCount > 0 ? session.totalRenderTimeMs / session.renderCount : 0,
      render_time_ms_p50: p50,
      render_time_ms_p95: p95,
      render_time_ms_p99: p99,
      metadata: session.metadata,
    },
    remaining_requests: remainingRequests(session),
  };
}

export type SessionResponse = ReturnType<typeof toSessionResponse>;

const nullable = (type: string) => ({ type: [type, 'null'] });
/** Numbers stay `number`, never `integer`: fast-json-stringify would round a non-integer one. */
const number = { type: 'number' };
/**
 * A string that never holds a character JSON escapes: written as it is, without
 * fast-json-stringify's per-character escape scan. Only for session ids (validated to
 * [A-Za-z0-9._:-]) and timestamps (isoTimestamp: digits and -:.TZ+).
 */
const unescaped = { type: 'string', format: 'unsafe' };

/**
 * toSessionResponse's output as a JSON schema, property for property in the same order: as a
 * route's response schema, Fastify serializes with fast-json-stringify, about a third of
 * JSON.stringify's cost on a session (about 0.6 µs against 2 µs here).
 * The bytes are JSON.stringify's (session.response.spec.ts); a property missing here would be
 * dropped from the answer, which that test catches.
 */
export const SESSION_RESPONSE_SCHEMA = {
  type: 'object',
  properties: {
    session_id: unescaped,
    created_at: unescaped,
    last_accessed: unescaped,
    expires_at: unescaped,
    config: {
      type: 'object',
      properties: {
        ttl_seconds: number,
        auto_renew: { type: 'boolean' },
        max_requests: number,
        track_metrics: { type: 'boolean' },
        proxy: { type: 'object', properties: { server: { type: 'string' }, username: { type: 'string' } } },
      },
    },
    state: {
      type: 'object',
      properties: {
        request_count: number,
        error_count: number,
        last_url: nullable('string'),
        last_error: nullable('string'),
        total_render_time_ms: number,
        avg_render_time_ms: number,
        render_time_ms_p50: nullable('number'),
        render_time_ms_p95: nullable('number'),
        render_time_ms_p99: nullable('number'),
        metadata: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
    remaining_requests: nullable('number'),
  },
} as const;

export function toMetricsResponse(m: SessionMetrics) {
  return {
    active_sessions: m.activeSessions,
    total_requests: m.totalRequests,
    avg_render_time_ms: m.avgRenderTimeMs,
    avg_session_age_seconds: m.avgSessionAgeSeconds,
    render_time_ms_p50: m.renderTimeMsP50,
    render_time_ms_p95: m.renderTimeMsP95,
    render_time_ms_p99: m.renderTimeMsP99,
    created_total: m.createdTotal,
    expired_total: m.expiredTotal,
    removed_total: m.removedTotal,
    stored_bytes: m.storedBytes,
  };
}

interface StoredCookie {
  name: string;
  value: string;
  domain: string;
  path: string;
  expires: number;
  httpOnly: boolean;
  secure: boolean;
  sameSite: string;
}

/** Cookies from a saved browser state (Playwright's storageState JSON) in the wire form. */
export function toCookiesResponse(storageState: string | null) {
  const cookies = storageState ? ((JSON.parse(storageState) as { cookies?: StoredCookie[] }).cookies ?? []) : [];
  return cookies.map((c) => ({
    name: c.name,
    value: c.value,
    domain: c.domain,
    path: c.path,
    expires: c.expires,
    http_only: c.httpOnly,
    secure: c.secure,
    same_site: c.sameSite,
  }));
}
