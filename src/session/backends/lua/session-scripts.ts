/**
 * The Lua scripts of the Redis session backend: one script per operation, so every
 * request-path operation is one round trip and runs atomically on the server. The positional
 * ARGV of each script is built by one function with named fields next to it (the script names
 * them again, in the same order, at its top), so the two sides cannot drift apart unseen.
 *
 * One layout for a single Redis and a Redis Cluster. A session lives in one of BUCKETS buckets
 * (lua/key-layout.ts: bucketOf(tenant, id)); every key of a bucket carries the bucket's hash tag
 * {B}, so each script below touches one Cluster slot, and a tenant's sessions spread over all
 * buckets (and primaries). Keys (P = the configured prefix, T tenant, S session id):
 *
 *   P sess:{B}:T:S    hash   i incarnation (random token of this creation of the id), c created,
 *                            a last accessed, e expires (epoch ms), ttl, ar, mr, tm (config), px
 *                            (upstream proxy as JSON, absent = none), rq, er (request and error
 *                            counts), lu, le (last url and error, absent = null), trt, rn (render
 *                            time sum and count), ss (seq of the saved browser state; absent =
 *                            none), b (the session's stored bytes: the storage budget's count)
 *   P meta:{B}:T:S    hash   the session's metadata
 *   P times:{B}:T:S   list   recent render times, capped to SESSION_RENDER_SAMPLES
 *   P state:{B}:T:S   string saved browser storage state (its seq is ss)
 *   P ids:{B}:T       zset   score 0, member S: the tenant's sessions in the bucket, in id order
 *   P exp:{B}:T       zset   score expires_at, member S: the tenant's live count in the bucket
 *   P exp:{B}         zset   score expires_at, member "created|bytes|S|T|I" (I: the incarnation,
 *                            bytes: the session's b, re-filed whenever b changes): the bucket's
 *                            live count, sweep
 *   P unreported:{B}  list   "T|S|I" of sessions removed without their caller being told (an
 *                            expired one an operation met, or one a metrics read swept), for the
 *                            next sweep to report; at most UNREPORTED_REMOVALS_MAX
 *   P stats:{B}       hash   created, expired, removed, requests, render_ms, renders,
 *                            sum_created, bytes (stored bytes of the sessions not yet dropped)
 *   P times:{B}       list   "time|ms" of the bucket's recent renders, capped to GLOBAL_RENDER_SAMPLES
 *   P stats:{B}:T     hash   the same fields as P stats:{B}, over the tenant's sessions only
 *   P times:{B}:T     list   the same, of the tenant's sessions
 *   P seats:{T}       hash   n<b>, v<b>: the tenant's sessions not yet dropped in bucket b, as of
 *                            version v<b> of that bucket (created + removed + expired)
 *   P pending:{T}     zset   seats of the tenant's creates in flight, scored by their lease's end
 *   P seats:{*}, P pending:{*}  the same over all tenants (the global cap)
 *
 * Every script that changes a bucket's stat changes the tenant's in the same atomic step, so
 * stats:{B} is always the sum of the stats:{B}:T. Counts, metrics and listing read every bucket
 * (several round trips, never on a session's request path) and add them up: they stay exact.
 *
 * The indexes are exact: every script that moves expires_at re-scores the session in both
 * expiry zsets in the same atomic step, so ZCOUNT (now, +inf] is the live count. Redis' own key
 * TTLs reclaim a session's keys shortly after it expires; the index entries of such a session
 * stay until a sweep, which needs nothing but the member itself ("created|bytes|S|T|I") to
 * count it, to keep sum_created and the stored bytes exact and to report the incarnation it
 * removed (the reason the incarnation and the bytes are in the member: its hash may be gone).
 * The sweep and the list scripts compute the keys of the sessions they meet: always keys of the
 * same bucket, so of the same slot.
 *
 * Expiry is `now >= expires_at`, with `now` from the caller (never Redis TIME), checked in
 * every script: an expired session is dropped (and counted as expired) the moment any
 * operation meets it, before Redis' TTL or a sweep gets to it.
 *
 * Session caps span the buckets, so a create first takes a seat (SEAT_TAKE) in the cap's own
 * slot — the tenant's and the global one, at once — then creates (two round trips), then
 * settles the seat without waiting (SEAT_SETTLE: the lease goes, and the create's bucket count,
 * reported by the create script itself, replaces the mirrored one in the same step). A seat is
 * counted as a lease until then, and a session as its bucket's mirrored count after, so the
 * caps are never passed while the instances run; removals reach the mirrors lazily (the next
 * settle in that bucket, or a catch-up: at a cap refusal, which sweeps and re-reads every
 * bucket before trying again, or in the background). Overshoot bound (README): an instance that
 * dies between a create and its settle leaves that session uncounted once the lease (30 s) has
 * passed and until the next catch-up — at most its creates in flight.
 *
 * Storage budget (DESIGN §2): a session's bytes (session.ts, utf8Bytes: Lua's # is the UTF-8
 * byte length of what ioredis sent) count in stats:{B}:T from its creation until it is dropped;
 * every script that changes them checks the budget and changes the count in the same step. The
 * tenant's bytes in the other buckets come in ARGV, as the calling instance last heard them
 * (every script reports its bucket's; a background refresh reads all): exact for one instance,
 * and behind by what other instances stored elsewhere in the last second otherwise (README).
 */

import type { StateSnapshot } from '../../session';
import { UNREPORTED_REMOVALS_MAX } from '../session-backend';

/** KEYS of every per-session script, in this order. */
export const SESSION_KEY_COUNT = 14;

/** Times are whole milliseconds on the wire (the index member parses them as digits). */
const ms = (time: number): string => String(Math.floor(time));
const flag = (value: boolean): string => (value ? '1' : '0');

/** Lua helpers shared by the sweeping scripts: holding a removal for the next reporting sweep. */
const HOLD = `
local function hold_unreported(key, tenant, sid, inc)
  if redis.call('LLEN', key) < ${UNREPORTED_REMOVALS_MAX} then
    redis.call('RPUSH', key, tenant .. '|' .. sid .. '|' .. inc)
  end
end
`;

/**
 * Shared prologue. ARGV[1..5] of every per-session script (sessionArgv): tenant, session id,
 * now (ms), the grace (ms) by which Redis' key TTL outlives expires_at, and the tenant's stored
 * bytes in the other buckets (as the caller last heard them).
 */
const PRELUDE = `${HOLD}
local K_SESS, K_META, K_TIMES, K_STATE = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local K_TIDS, K_TEXP, K_GEXP, K_STATS, K_GTIMES = KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local K_TSTATS, K_TTIMES, K_UNREPORTED = KEYS[10], KEYS[11], KEYS[12]
local K_TUNSETTLED, K_UNSETTLED = KEYS[13], KEYS[14]
local TENANT, SID, NOW_S = ARGV[1], ARGV[2], ARGV[3]
local NOW = tonumber(NOW_S)
local GRACE = tonumber(ARGV[4])
local OTHER_BYTES = tonumber(ARGV[5])

local function as_table(flat)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

local function index_member(s)
  return s.c .. '|' .. s.b .. '|' .. SID .. '|' .. TENANT .. '|' .. s.i
end

-- Adds to a stat field, globally and for the tenant.
local function stat(field, by)
  redis.call('HINCRBY', K_STATS, field, by)
  redis.call('HINCRBY', K_TSTATS, field, by)
end

local function tenant_bytes()
  return tonumber(redis.call('HGET', K_TSTATS, 'bytes') or '0') + OTHER_BYTES
end

-- Whether adding grown bytes keeps the tenant within max (shrinking always does).
local function fits(grown, max)
  return grown <= 0 or tenant_bytes() + grown <= tonumber(max)
end

-- Changes the session's stored bytes, re-filing its index member (which carries them).
local function resize(s, by)
  if by == 0 then return end
  redis.call('ZREM', K_GEXP, index_member(s))
  s.b = tostring(tonumber(s.b) + by)
  redis.call('HSET', K_SESS, 'b', s.b)
  redis.call('ZADD', K_GEXP, s.e, index_member(s))
  stat('bytes', by)
end

-- Deletes the session and its index entries, counted under 'expired' or 'removed'.
local function drop(s, counter)
  redis.call('DEL', K_SESS, K_META, K_TIMES, K_STATE)
  redis.call('ZREM', K_TIDS, SID)
  redis.call('ZREM', K_TEXP, SID)
  redis.call('ZREM', K_GEXP, index_member(s))
  stat(counter, 1)
  stat('sum_created', '-' .. s.c)
  -- Never '-0': Redis refuses it as an increment.
  if s.b ~= '0' then stat('bytes', '-' .. s.b) end
end

-- The live session as a table (plus its raw HGETALL), or nil; an expired one is dropped now,
-- and held for the next sweep to report (this operation's caller is not told of it).
local function live()
  local flat = redis.call('HGETALL', K_SESS)
  if #flat == 0 then return nil, flat end
  local s = as_table(flat)
  if NOW >= tonumber(s.e) then
    drop(s, 'expired')
    hold_unreported(K_UNREPORTED, TENANT, SID, s.i)
    return nil, flat
  end
  return s, flat
end

local function set_expiry(s, expires)
  s.e = expires
  redis.call('HSET', K_SESS, 'e', expires)
  redis.call('ZADD', K_TEXP, expires, SID)
  redis.call('ZADD', K_GEXP, expires, index_member(s))
end

local function touch(s)
  redis.call('HSET', K_SESS, 'a', NOW_S)
  if s.ar == '1' then set_expiry(s, NOW + tonumber(s.ttl) * 1000) end
end

-- Redis reclaims every key of the session a little after it expires (the grace absorbs clock
-- skew between API instances); the TTL is relative, so it does not depend on Redis' clock.
local function keep_until_expiry(s)
  local ms = tonumber(s.e) - NOW + GRACE
  redis.call('PEXPIRE', K_SESS, ms)
  redis.call('PEXPIRE', K_META, ms)
  redis.call('PEXPIRE', K_TIMES, ms)
  redis.call('PEXPIRE', K_STATE, ms)
end

local function reply(flat)
  return { flat or redis.call('HGETALL', K_SESS), redis.call('HGETALL', K_META), redis.call('LRANGE', K_TIMES, 0, -1) }
end

-- Creates the session (a new incarnation, with no browser state) from the insert arguments at
-- ARGV[o..] (insertArgv). Returns a refusal, or nil and the new session (whose keys the caller
-- still gives their TTL). The session caps were checked before (seats, see SEAT_TAKE).
local function insert(o)
  local ttl, ar, mr, tm, proxy, max_bytes, seat, lease, inc, pairs_count = unpack(ARGV, o, o + 9)
  pairs_count = tonumber(pairs_count)
  local bytes = #proxy
  for i = o + 10, o + 9 + 2 * pairs_count do bytes = bytes + #ARGV[i] end
  if not fits(bytes, max_bytes) then return { 'bytes_quota', tenant_bytes() + bytes, tonumber(max_bytes) } end

  local s = { i = inc, c = NOW_S, ttl = ttl, ar = ar, b = tostring(bytes) }
  -- live() dropped any earlier incarnation; Redis' TTL may also have reclaimed only some of
  -- its keys: whatever is left of them must not reach this one.
  redis.call('DEL', K_SESS, K_META, K_TIMES, K_STATE)
  redis.call('HSET', K_SESS, 'i', inc, 'c', NOW_S, 'a', NOW_S, 'ttl', ttl, 'ar', ar, 'mr', mr, 'tm', tm,
    'rq', 0, 'er', 0, 'trt', 0, 'rn', 0, 'b', bytes)
  if proxy ~= '' then redis.call('HSET', K_SESS, 'px', proxy) end
  if pairs_count > 0 then
    redis.call('HSET', K_META, unpack(ARGV, o + 10, o + 9 + 2 * pairs_count))
  end
  redis.call('ZADD', K_TIDS, 0, SID)
  set_expiry(s, NOW + tonumber(ttl) * 1000)
  stat('created', 1)
  stat('sum_created', NOW_S)
  stat('bytes', bytes)
  -- The seat's session is in this bucket's count from now on: until the seat is settled, the
  -- counts this bucket reports name it, so that the seat counter does not count it twice.
  for _, key in ipairs({ K_TUNSETTLED, K_UNSETTLED }) do
    redis.call('ZREMRANGEBYSCORE', key, '-inf', NOW - tonumber(lease))
    redis.call('ZADD', key, NOW_S, seat)
  end
  return nil, s
end
`;

/**
 * A bucket's report: the tenant's stored bytes in it; the tenant's created and dropped (removed
 * + expired) counts and the seats of its creates there not known to be settled; the same over
 * all tenants. The caller mirrors it into its bytes cache and the seat counters.
 */
const REPORT = `
local function bucket_report(tstats, stats, tunsettled, unsettled)
  local t = redis.call('HMGET', tstats, 'bytes', 'created', 'removed', 'expired')
  local g = redis.call('HMGET', stats, 'created', 'removed', 'expired')
  local n = function(v) return tonumber(v or '0') end
  return { n(t[1]), n(t[2]), n(t[3]) + n(t[4]), redis.call('ZRANGE', tunsettled, 0, -1),
    n(g[1]), n(g[2]) + n(g[3]), redis.call('ZRANGE', unsettled, 0, -1) }
end
`;

/** Every per-session script answers {its result, the bucket's report}. */
const perSession = (body: string): string => `${PRELUDE}${REPORT}
local function main()
${body}
end
local result = main()
return { result, bucket_report(K_TSTATS, K_STATS, K_TUNSETTLED, K_UNSETTLED) }
`;

/** KEYS: stats:{B}:T, stats:{B}, unsettled:{B}:T, unsettled:{B}. -> the bucket's report */
const BUCKET_REPORT = `${REPORT}
return bucket_report(KEYS[1], KEYS[2], KEYS[3], KEYS[4])
`;

/** ARGV[1..5] of every per-session script. */
export interface SessionArgs {
  tenant: string;
  id: string;
  now: number;
  /** How long Redis keeps the keys after expires_at. */
  graceMs: number;
  /** The tenant's stored bytes in the other buckets, as the caller last heard them. */
  otherBytes: number;
}

export const sessionArgv = ({ tenant, id, now, graceMs, otherBytes }: SessionArgs): string[] => [
  tenant,
  id,
  ms(now),
  String(graceMs),
  String(otherBytes),
];

/** What insert() creates a session from (a new incarnation), and the storage budget it checks. */
export interface InsertArgs {
  ttlSeconds: number;
  autoRenew: boolean;
  maxRequests: number;
  trackMetrics: boolean;
  /** The upstream proxy as JSON; '' for none. */
  proxyJson: string;
  maxBytesPerTenant: number;
  /** The seat taken for this create, and how long its lease lasts. */
  seatToken: string;
  seatLeaseMs: number;
  incarnation: string;
  metadata: [string, string][];
}

const insertArgv = (a: InsertArgs): string[] => [
  String(a.ttlSeconds),
  flag(a.autoRenew),
  String(a.maxRequests),
  flag(a.trackMetrics),
  a.proxyJson,
  String(a.maxBytesPerTenant),
  a.seatToken,
  String(a.seatLeaseMs),
  a.incarnation,
  String(a.metadata.length),
  ...a.metadata.flat(),
];

/** ARGV[6..]: the insert arguments. -> {'created'|'exists', session} | {'bytes_quota', bytes, max} */
const CREATE = perSession(`
local s, flat = live()
if s then return { 'exists', reply(flat) } end
local refused, created = insert(6)
if refused then return refused end
keep_until_expiry(created)
return { 'created', reply() }
`);

export const createArgv = (session: SessionArgs, insert: InsertArgs): string[] => [...sessionArgv(session), ...insertArgv(insert)];

/** -> {session} or {} */
const GET = perSession(`
local s, flat = live()
if not s then return {} end
return reply(flat)
`);

/** -> {session} or {} */
const TOUCH = perSession(`
local s = live()
if not s then return {} end
touch(s)
keep_until_expiry(s)
return reply()
`);

/**
 * ARGV[6] '1' to create a missing session from ARGV[7..] (the insert arguments).
 * -> {'reserved', session, created 0|1, has_state 0|1, seq} | {'limit', session}
 *    | {'not_found'} | {'bytes_quota', bytes, max}
 */
const RESERVE = perSession(`
local CREATE_MISSING = ARGV[6]
local s = live()
local created = 0
if not s then
  if CREATE_MISSING ~= '1' then return { 'not_found' } end
  local refused = insert(7)
  if refused then return refused end
  s = as_table(redis.call('HGETALL', K_SESS))
  created = 1
end
local max = tonumber(s.mr)
if max > 0 and tonumber(s.rq) >= max then return { 'limit', reply() } end
redis.call('HINCRBY', K_SESS, 'rq', 1)
stat('requests', 1)
-- A session created just now is already touched (last_accessed = now, expires_at = now + ttl).
if created == 0 then touch(s) end
keep_until_expiry(s)
-- The state's order number only: the state itself is read (rtStorageState) when a renderer asks for it.
if redis.call('EXISTS', K_STATE) == 1 then return { 'reserved', reply(), created, 1, s.ss } end
return { 'reserved', reply(), created, 0 }
`);

/** createMissing: the insert arguments to create a missing session from, or null to answer not_found. */
export const reserveArgv = (session: SessionArgs, createMissing: InsertArgs | null): string[] => [
  ...sessionArgv(session),
  ...(createMissing ? ['1', ...insertArgv(createMissing)] : ['0']),
];

/** Gives back a request reserved for a render that no renderer ran (no touch). -> {session} or {} */
const REFUND = perSession(`
local s = live()
if not s then return {} end
if tonumber(s.rq) > 0 then
  redis.call('HINCRBY', K_SESS, 'rq', -1)
  stat('requests', -1)
end
return reply()
`);

/**
 * ARGV[6..] (recordArgv). The url and error are recorded (and counted) first; a state is then
 * kept only if its seq is greater than ss, the saved one's, and the tenant's bytes stay within
 * MAX_BYTES; clearing the state clears ss with it.
 * -> {session, 'saved'|'stale'|'over_budget'|'none'} or {}
 */
const RECORD = perSession(`
local URL, RENDER_MS, FAILED, ERROR, STATE_OP, STATE, STATE_SEQ, SESSION_SAMPLES, GLOBAL_SAMPLES, MAX_BYTES = unpack(ARGV, 6, 15)
local s = live()
if not s then return {} end
touch(s)
local grown = #URL - #(s.lu or '')
redis.call('HSET', K_SESS, 'lu', URL)
if FAILED == '1' then
  redis.call('HINCRBY', K_SESS, 'er', 1)
  grown = grown + #ERROR - #(s.le or '')
  redis.call('HSET', K_SESS, 'le', ERROR)
elseif s.tm == '1' then
  redis.call('HINCRBYFLOAT', K_SESS, 'trt', RENDER_MS)
  redis.call('HINCRBY', K_SESS, 'rn', 1)
  redis.call('RPUSH', K_TIMES, RENDER_MS)
  redis.call('LTRIM', K_TIMES, SESSION_SAMPLES, -1)
  redis.call('HINCRBYFLOAT', K_STATS, 'render_ms', RENDER_MS)
  redis.call('HINCRBYFLOAT', K_TSTATS, 'render_ms', RENDER_MS)
  stat('renders', 1)
  -- With the time, so that readers can merge the buckets' samples into the most recent ones.
  redis.call('RPUSH', K_GTIMES, NOW_S .. '|' .. RENDER_MS)
  redis.call('LTRIM', K_GTIMES, GLOBAL_SAMPLES, -1)
  redis.call('RPUSH', K_TTIMES, NOW_S .. '|' .. RENDER_MS)
  redis.call('LTRIM', K_TTIMES, GLOBAL_SAMPLES, -1)
end
resize(s, grown)
local outcome = 'none'
if STATE_OP == 'set' and tonumber(STATE_SEQ) <= tonumber(s.ss or '0') then
  outcome = 'stale'
elseif STATE_OP ~= 'keep' then
  local state_grown = (STATE_OP == 'set' and #STATE or 0) - redis.call('STRLEN', K_STATE)
  if not fits(state_grown, MAX_BYTES) then
    outcome = 'over_budget'
  else
    if STATE_OP == 'set' then
      redis.call('SET', K_STATE, STATE)
      redis.call('HSET', K_SESS, 'ss', STATE_SEQ)
    else
      redis.call('DEL', K_STATE)
      redis.call('HDEL', K_SESS, 'ss')
    end
    resize(s, state_grown)
    outcome = 'saved'
  end
end
keep_until_expiry(s)
return { reply(), outcome }
`);

export interface RecordArgs {
  url: string;
  renderTimeMs: number;
  /** null on success. */
  error: string | null;
  /** undefined keeps the saved state, null clears it. */
  state: StateSnapshot | null | undefined;
  /** How many recent render times to keep per session, and globally / per tenant. */
  sessionSamples: number;
  globalSamples: number;
  maxTenantBytes: number;
}

export const recordArgv = (session: SessionArgs, r: RecordArgs): string[] => [
  ...sessionArgv(session),
  r.url,
  String(r.renderTimeMs),
  flag(r.error !== null),
  r.error ?? '',
  r.state === undefined ? 'keep' : r.state === null ? 'del' : 'set',
  r.state?.json ?? '',
  String(r.state?.seq ?? 0),
  String(-r.sessionSamples),
  String(-r.globalSamples),
  String(r.maxTenantBytes),
];

/**
 * ARGV[6..] (updateArgv): the limits, the config fields ('' = unchanged), the proxy ('keep',
 * 'del', or 'set' and its JSON), metadata ('1' to clear it first, n, then n triples key,
 * 's'|'d', value; keys distinct). Checks everything before changing anything.
 * -> {'updated', session} | {'not_found'} | {'metadata_limit', keys} | {'bytes_quota', bytes, max}
 */
const UPDATE = perSession(`
local MAX_KEYS, MAX_BYTES, TTL, AR, MR, TM, PROXY_OP, PROXY, CLEAR_META, N = unpack(ARGV, 6, 15)
local FIRST = 16
local s = live()
if not s then return { 'not_found' } end
local n = tonumber(N)
local grown = 0
if CLEAR_META == '1' then
  for _, part in ipairs(redis.call('HGETALL', K_META)) do grown = grown - #part end
elseif n > 0 then
  local count = redis.call('HLEN', K_META)
  for i = 0, n - 1 do
    local key = ARGV[FIRST + 3 * i]
    local old = redis.call('HGET', K_META, key)
    if old then grown = grown - #key - #old end
    if ARGV[FIRST + 1 + 3 * i] == 's' then grown = grown + #key + #ARGV[FIRST + 2 + 3 * i] end
    local had = old and 1 or 0
    if ARGV[FIRST + 1 + 3 * i] == 's' then count = count + 1 - had else count = count - had end
  end
  if count > tonumber(MAX_KEYS) then return { 'metadata_limit', count } end
end
if PROXY_OP ~= 'keep' then grown = grown + #PROXY - #(s.px or '') end
if not fits(grown, MAX_BYTES) then return { 'bytes_quota', tenant_bytes() + grown, tonumber(MAX_BYTES) } end

if CLEAR_META == '1' then
  redis.call('DEL', K_META)
elseif n > 0 then
  for i = 0, n - 1 do
    local key = ARGV[FIRST + 3 * i]
    if ARGV[FIRST + 1 + 3 * i] == 's' then
      redis.call('HSET', K_META, key, ARGV[FIRST + 2 + 3 * i])
    else
      redis.call('HDEL', K_META, key)
    end
  end
end
for _, change in ipairs({ { 'ttl', TTL }, { 'ar', AR }, { 'mr', MR }, { 'tm', TM } }) do
  if change[2] ~= '' then redis.call('HSET', K_SESS, change[1], change[2]) end
end
if PROXY_OP == 'set' then
  redis.call('HSET', K_SESS, 'px', PROXY)
elseif PROXY_OP == 'del' then
  redis.call('HDEL', K_SESS, 'px')
end
resize(s, grown)
-- A new TTL counts from the change, so shortening it cannot expire a session in the past.
if TTL ~= '' then set_expiry(s, NOW + tonumber(TTL) * 1000) end
keep_until_expiry(s)
return { 'updated', reply() }
`);

export interface UpdateArgs {
  maxMetadataKeys: number;
  maxTenantBytes: number;
  ttlSeconds?: number;
  autoRenew?: boolean;
  maxRequests?: number;
  trackMetrics?: boolean;
  /** undefined keeps the proxy, null removes it, a string (its JSON) replaces it. */
  proxyJson: string | null | undefined;
  /** null clears the metadata; entries with a null value delete their key. */
  metadata: [string, string | null][] | null;
}

export function updateArgv(session: SessionArgs, u: UpdateArgs): string[] {
  const opt = (value: number | boolean | undefined): string =>
    value === undefined ? '' : typeof value === 'boolean' ? flag(value) : String(value);
  const metadata = u.metadata ?? [];
  return [
    ...sessionArgv(session),
    String(u.maxMetadataKeys),
    String(u.maxTenantBytes),
    opt(u.ttlSeconds),
    opt(u.autoRenew),
    opt(u.maxRequests),
    opt(u.trackMetrics),
    u.proxyJson === undefined ? 'keep' : u.proxyJson === null ? 'del' : 'set',
    u.proxyJson ?? '',
    flag(u.metadata === null),
    String(metadata.length),
    ...metadata.flatMap(([key, value]) => [key, value === null ? 'd' : 's', value ?? '']),
  ];
}

/** -> the removed incarnation, or 0 when not found */
const REMOVE = perSession(`
local s = live()
if not s then return 0 end
drop(s, 'removed')
return s.i
`);

/** -> {0} not found | {1, has_state 0|1, state, seq} */
const STORAGE_STATE = perSession(`
local s = live()
if not s then return { 0 } end
local state = redis.call('GET', K_STATE)
if state then return { 1, 1, state, s.ss } end
return { 1, 0, '', '0' }
`);

/** Lua: the name of a key of the bucket tagged TAG (see sessionKeys in redis-session.backend.ts). */
const KEY_NAMES = `
local function bucket_key(prefix, kind, tag, tenant, sid)
  local key = prefix .. kind .. ':{' .. tag .. '}'
  if tenant then key = key .. ':' .. tenant end
  if sid then key = key .. ':' .. sid end
  return key
end
`;

/**
 * KEYS: ids:{B}:T, exp:{B}:T (one bucket). ARGV (listIdsArgv): prefix, tag, tenant, now, limit,
 * after ('' = from the start), scan budget, item overhead. The bucket's live sessions of the
 * tenant in id order after `after`, with what each costs a page (listedBytes: b without the
 * state, plus the overhead): at most `limit` + 1 (one more tells that more follow), examining
 * at most `budget` index entries, so a tenant with many expired, not yet swept entries cannot
 * make it slow.
 * -> {{id, bytes, id, bytes, ...}, frontier}: frontier '' when the bucket has nothing more after
 * them, else the last id examined (ids after it are unknown yet).
 */
const LIST_IDS = `${KEY_NAMES}
local PREFIX, TAG, TENANT, NOW_S, LIMIT, AFTER, BUDGET, ITEM_OVERHEAD = unpack(ARGV, 1, 8)
local now = tonumber(NOW_S)
local limit, budget = tonumber(LIMIT), tonumber(BUDGET)
local start = '-'
if AFTER ~= '' then start = '(' .. AFTER end
local found, frontier, scanned = {}, '', 0
local batch_size = math.min(limit + 1, 256)
while frontier == '' do
  local batch = redis.call('ZRANGEBYLEX', KEYS[1], start, '+', 'LIMIT', 0, batch_size)
  if #batch == 0 then break end
  for _, sid in ipairs(batch) do
    local expires = redis.call('ZSCORE', KEYS[2], sid)
    if expires and tonumber(expires) > now then
      local bytes = redis.call('HGET', bucket_key(PREFIX, 'sess', TAG, TENANT, sid), 'b')
      if bytes then
        found[#found + 1] = sid
        found[#found + 1] = tonumber(bytes) - redis.call('STRLEN', bucket_key(PREFIX, 'state', TAG, TENANT, sid))
          + tonumber(ITEM_OVERHEAD)
      end
    end
    scanned = scanned + 1
    if #found == 2 * (limit + 1) or scanned >= budget then
      frontier = sid
      break
    end
  end
  start = '(' .. batch[#batch]
end
return { found, frontier }
`;

export interface ListIdsArgs {
  prefix: string;
  tag: string;
  tenant: string;
  now: number;
  limit: number;
  after: string | null;
  budget: number;
  itemOverheadBytes: number;
}

export const listIdsArgv = (l: ListIdsArgs): string[] => [
  l.prefix,
  l.tag,
  l.tenant,
  ms(l.now),
  String(l.limit),
  l.after ?? '',
  String(l.budget),
  String(l.itemOverheadBytes),
];

/**
 * KEYS: sess, meta, times of each session to fetch (one bucket). ARGV: now.
 * -> one entry per session: {session flat, metadata flat, times} or {} when it is gone.
 */
const LIST_FETCH = `
local now = tonumber(ARGV[1])
local items = {}
for i = 1, #KEYS, 3 do
  local flat = redis.call('HGETALL', KEYS[i])
  local expires = redis.call('HGET', KEYS[i], 'e')
  if #flat > 0 and tonumber(expires) > now then
    items[#items + 1] = { flat, redis.call('HGETALL', KEYS[i + 1]), redis.call('LRANGE', KEYS[i + 2], 0, -1) }
  else
    items[#items + 1] = {}
  end
end
return items
`;

/**
 * Removes up to `batch` of the bucket's index entries that are due (expires_at <= now), with
 * their keys and tenant index entries, counts them as expired and gives back their sum_created
 * and stored bytes, in the bucket and for their tenant (the tenant is in the member). The
 * incarnation in the member tells whether the id's keys are still this session's, or already a
 * newer incarnation's (this entry outlived its keys). Returns how many entries it examined, how
 * many it removed, and those as a flat list (tenant, id, incarnation, ...); with `hold_key`, it
 * holds them there for the next reporting sweep instead.
 */
const SWEEP_BATCH = `${HOLD}${KEY_NAMES}
local function sweep_batch(gexp, stats, prefix, tag, now_s, batch, hold_key)
  local now = tonumber(now_s)
  local due = redis.call('ZRANGEBYSCORE', gexp, '-inf', now_s, 'LIMIT', 0, batch)
  local expired = 0
  local per_tenant, tenants, refs = {}, {}, {}
  for _, member in ipairs(due) do
    local created, bytes, sid, tenant, inc = string.match(member, '^(%d+)|(%d+)|([^|]*)|([^|]*)|([^|]+)$')
    if not created then
      redis.call('ZREM', gexp, member)
    else
      local sess = bucket_key(prefix, 'sess', tag, tenant, sid)
      local current = redis.call('HMGET', sess, 'i', 'e')
      if current[1] == inc and tonumber(current[2]) > now then
        -- Not due after all (cannot happen while every expiry change re-scores; kept safe).
        redis.call('ZADD', gexp, current[2], member)
      else
        redis.call('ZREM', gexp, member)
        if current[1] == inc or not current[1] then
          redis.call('DEL', sess, bucket_key(prefix, 'meta', tag, tenant, sid), bucket_key(prefix, 'times', tag, tenant, sid),
            bucket_key(prefix, 'state', tag, tenant, sid))
          redis.call('ZREM', bucket_key(prefix, 'ids', tag, tenant), sid)
          redis.call('ZREM', bucket_key(prefix, 'exp', tag, tenant), sid)
        end
        local tenant_stats = bucket_key(prefix, 'stats', tag, tenant)
        redis.call('HINCRBY', stats, 'sum_created', '-' .. created)
        redis.call('HINCRBY', tenant_stats, 'sum_created', '-' .. created)
        if bytes ~= '0' then
          redis.call('HINCRBY', stats, 'bytes', '-' .. bytes)
          redis.call('HINCRBY', tenant_stats, 'bytes', '-' .. bytes)
        end
        expired = expired + 1
        if not per_tenant[tenant] then
          per_tenant[tenant] = 0
          tenants[#tenants + 1] = tenant
        end
        per_tenant[tenant] = per_tenant[tenant] + 1
        if hold_key then
          hold_unreported(hold_key, tenant, sid, inc)
        else
          refs[#refs + 1] = tenant
          refs[#refs + 1] = sid
          refs[#refs + 1] = inc
        end
      end
    end
  end
  if expired > 0 then redis.call('HINCRBY', stats, 'expired', expired) end
  for _, tenant in ipairs(tenants) do
    redis.call('HINCRBY', bucket_key(prefix, 'stats', tag, tenant), 'expired', per_tenant[tenant])
  end
  return #due, expired, refs
end
`;

/**
 * KEYS: exp:{B}, stats:{B}, unreported:{B} (one bucket). ARGV (sweepArgv): prefix, tag, now,
 * batch, report. Sweeps one batch of the bucket; reporting, it also takes up to `batch` held
 * removals (each is reported once: it leaves the list), else it holds what it removes.
 * -> {examined, expired, swept {tenant, id, incarnation, ...}, held {"tenant|id|incarnation", ...}}
 */
const SWEEP = `${SWEEP_BATCH}
local PREFIX, TAG, NOW_S, BATCH, REPORT = unpack(ARGV, 1, 5)
local batch = tonumber(BATCH)
if REPORT ~= '1' then
  local examined, expired = sweep_batch(KEYS[1], KEYS[2], PREFIX, TAG, NOW_S, batch, KEYS[3])
  return { examined, expired, {}, {} }
end
local examined, expired, swept = sweep_batch(KEYS[1], KEYS[2], PREFIX, TAG, NOW_S, batch)
local held = redis.call('LPOP', KEYS[3], batch) or {}
return { examined, expired, swept, held }
`;

export interface SweepArgs {
  prefix: string;
  tag: string;
  now: number;
  batch: number;
  /** Whether the caller reports the removals (else they are held for one that does). */
  report: boolean;
}

export const sweepArgv = (w: SweepArgs): string[] => [w.prefix, w.tag, ms(w.now), String(w.batch), flag(w.report)];

/**
 * KEYS: exp:{B}, stats:{B}, unreported:{B}, then the expiry zset, stats hash and times list to
 * answer from: the bucket's (exp:{B}, stats:{B}, times:{B}) or its tenant's (exp:{B}:T ...).
 * ARGV (sweepArgv): prefix, tag, now, batch. Sweeps one batch of the bucket first, so that
 * sum_created and the bytes cover live sessions only (what it removes is held for a reporting
 * sweep); when more is due than one batch, answers {0} and the caller sweeps and asks again.
 * -> {1, live, stats, recent "time|ms" samples} | {0}
 */
const METRICS = `${SWEEP_BATCH}
local PREFIX, TAG, NOW_S, BATCH = unpack(ARGV, 1, 4)
local batch = tonumber(BATCH)
local examined = sweep_batch(KEYS[1], KEYS[2], PREFIX, TAG, NOW_S, batch, KEYS[3])
if examined >= batch then return { 0 } end
return { 1, redis.call('ZCOUNT', KEYS[4], '(' .. NOW_S, '+inf'), redis.call('HGETALL', KEYS[5]),
  redis.call('LRANGE', KEYS[6], 0, -1) }
`;

export const metricsArgv = (m: Omit<SweepArgs, 'report'>): string[] => sweepArgv({ ...m, report: false }).slice(0, 4);

/**
 * Seats: a session cap (a tenant's, or the global one) spans every bucket, so a create takes a
 * seat first, in the cap's own slot. KEYS: seats:{X} (hash: n<b>, v<b> = the count of sessions
 * not yet dropped in bucket b, as of that bucket's version v<b>; u<b> = the seats of creates in
 * bucket b that count already counts, comma-separated), pending:{X} (zset: seats taken by
 * creates in flight, scored by when their lease ends). ARGV (seatTakeArgv): now, lease (ms),
 * token, max, bucket count. Held = the buckets' counts + the live leases they do not count yet.
 * -> {1, held} taken | {0, held} refused
 */
const SEAT_TAKE = `
local NOW_S, LEASE, TOKEN, MAX, BUCKETS = unpack(ARGV, 1, 5)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', NOW_S)
local counted, held = {}, 0
for b = 0, tonumber(BUCKETS) - 1 do
  local mirror = redis.call('HMGET', KEYS[1], 'n' .. b, 'u' .. b)
  held = held + tonumber(mirror[1] or '0')
  for seat in string.gmatch(mirror[2] or '', '[^,]+') do counted[seat] = true end
end
for _, seat in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if not counted[seat] then held = held + 1 end
end
if held >= tonumber(MAX) then return { 0, held } end
redis.call('ZADD', KEYS[2], tonumber(NOW_S) + tonumber(LEASE), TOKEN)
return { 1, held + 1 }
`;

export interface SeatTakeArgs {
  now: number;
  leaseMs: number;
  token: string;
  max: number;
  buckets: number;
}

export const seatTakeArgv = (t: SeatTakeArgs): string[] => [ms(t.now), String(t.leaseMs), t.token, String(t.max), String(t.buckets)];

/**
 * KEYS: seats:{X}, pending:{X}. ARGV (seatSettleArgv): the token to release ('' none), then
 * (bucket, count, version, seats it counts) groups. A bucket's count replaces the mirrored one
 * only if its version is newer, so settling is idempotent and order-free; a session is counted
 * once throughout: by its lease until a mirrored count names its seat, by that count after. -> 1
 */
const SEAT_SETTLE = `
if ARGV[1] ~= '' then redis.call('ZREM', KEYS[2], ARGV[1]) end
for i = 2, #ARGV, 4 do
  local b, version = ARGV[i], tonumber(ARGV[i + 2])
  if version > tonumber(redis.call('HGET', KEYS[1], 'v' .. b) or '-1') then
    redis.call('HSET', KEYS[1], 'n' .. b, ARGV[i + 1], 'v' .. b, version, 'u' .. b, ARGV[i + 3])
  end
end
return 1
`;

/** A bucket's sessions not yet dropped, its version (every create and drop moves it on), and the seats of its creates it may count. */
export interface BucketCount {
  bucket: number;
  created: number;
  dropped: number;
  seats: string[];
}

export const seatSettleArgv = (token: string | null, counts: BucketCount[]): string[] => [
  token ?? '',
  ...counts.flatMap(({ bucket, created, dropped, seats }) => [
    String(bucket),
    String(created - dropped),
    String(created + dropped),
    seats.join(','),
  ]),
];

export interface ScriptDefinition {
  lua: string;
  /** Absent: the caller passes the key count first (ioredis still routes by the keys). */
  numberOfKeys?: number;
}

/**
 * Registered with ioredis defineCommand: EVALSHA, falling back to EVAL on NOSCRIPT (per node, on
 * a Cluster). GET, TOUCH, REFUND, REMOVE and STORAGE_STATE take sessionArgv alone. LIST_FETCH
 * declares as many keys as it fetches sessions.
 */
export const SESSION_SCRIPTS = {
  rtCreate: { lua: CREATE, numberOfKeys: SESSION_KEY_COUNT },
  rtGet: { lua: GET, numberOfKeys: SESSION_KEY_COUNT },
  rtTouch: { lua: TOUCH, numberOfKeys: SESSION_KEY_COUNT },
  rtReserve: { lua: RESERVE, numberOfKeys: SESSION_KEY_COUNT },
  rtRefund: { lua: REFUND, numberOfKeys: SESSION_KEY_COUNT },
  rtRecord: { lua: RECORD, numberOfKeys: SESSION_KEY_COUNT },
  rtUpdate: { lua: UPDATE, numberOfKeys: SESSION_KEY_COUNT },
  rtRemove: { lua: REMOVE, numberOfKeys: SESSION_KEY_COUNT },
  rtStorageState: { lua: STORAGE_STATE, numberOfKeys: SESSION_KEY_COUNT },
  rtListIds: { lua: LIST_IDS, numberOfKeys: 2 },
  rtListFetch: { lua: LIST_FETCH },
  rtSweep: { lua: SWEEP, numberOfKeys: 3 },
  rtMetrics: { lua: METRICS, numberOfKeys: 6 },
  rtSeatTake: { lua: SEAT_TAKE, numberOfKeys: 2 },
  rtSeatSettle: { lua: SEAT_SETTLE, numberOfKeys: 2 },
  rtBucketReport: { lua: BUCKET_REPORT, numberOfKeys: 4 },
} satisfies Record<string, ScriptDefinition>;

export type SessionScriptName = keyof typeof SESSION_SCRIPTS;
