import fastJson from 'fast-json-stringify';
import { Session, SessionConfig } from '../session';
import { SESSION_RESPONSE_SCHEMA, toSessionResponse } from './session.response';

const config: SessionConfig = { ttlSeconds: 1800, autoRenew: true, maxRequests: 0, trackMetrics: true };
const session: Session = {
  tenant: 'default',
  id: 'rpc_session_0123456789abcdef01234567',
  incarnation: 'inc-1',
  createdAt: Date.UTC(2026, 0, 1, 12),
  lastAccessed: Date.UTC(2026, 0, 1, 12, 30),
  expiresAt: Date.UTC(2026, 0, 1, 13, 0, 0, 5),
  config,
  requestCount: 0,
  errorCount: 0,
  lastUrl: null,
  lastError: null,
  totalRenderTimeMs: 0,
  renderCount: 0,
  renderTimes: [],
  metadata: {},
};

describe('SESSION_RESPONSE_SCHEMA', () => {
  const serialize = fastJson(SESSION_RESPONSE_SCHEMA);

  it.each([
    ['a new session (nulls, no proxy, no metadata)', session],
    [
      'a used one (proxy with username, metadata, render times, a limit, fractions, escapes)',
      {
        ...session,
        config: { ...config, maxRequests: 10, proxy: { server: 'http://proxy:3128', username: 'ü"ser', password: 'never shown' } },
        requestCount: 3,
        errorCount: 1,
        lastUrl: 'https://example.com/a?b="c"&d=\u2028',
        lastError: 'net::ERR_FAILED\n\tat x',
        totalRenderTimeMs: 301.5,
        renderCount: 2,
        renderTimes: [100.25, 201.25],
        metadata: { team: 'a', 'key with "quotes"': 'värde\\' },
      },
    ],
    ['an id of every character ids may hold, a time past year 9999', { ...session, id: 'Az09._:-', expiresAt: 8.64e15 }],
    ['a proxy without username, remaining requests exhausted', { ...session, config: { ...config, maxRequests: 2, proxy: { server: 'socks5://p:1' } }, requestCount: 5 }],
  ])('serializes %s to the bytes JSON.stringify gives', (_, s: Session) => {
    const response = toSessionResponse(s);
    expect(serialize(response)).toBe(JSON.stringify(response));
  });
});
