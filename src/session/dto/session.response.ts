import { percentile, remainingRequests, Session } from '../session';
import type { SessionMetrics } from '../session.store';

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The wire form of a session (DESIGN §2). Neither its incarnation nor its proxy's password is
 * ever shown: the proxy appears as { server, username? }, and only when the session has one.
 */
export function toSessionResponse(session: Session) {
  const { config } = session;
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
      render_time_ms_p50: percentile(session.renderTimes, 0.5),
      render_time_ms_p95: percentile(session.renderTimes, 0.95),
      render_time_ms_p99: percentile(session.renderTimes, 0.99),
      metadata: session.metadata,
    },
    remaining_requests: remainingRequests(session),
  };
}

export type SessionResponse = ReturnType<typeof toSessionResponse>;

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
