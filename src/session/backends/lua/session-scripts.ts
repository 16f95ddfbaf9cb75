/**
 * The Lua scripts of the Redis session backend: one script per operation, so every
 * request-path operation is one round trip and runs atomically on the server.
 *
 * Key layout (P = the configured prefix, {T:S} = tenant and session id as a hash tag, so that
 * all keys of one session share a Cluster slot):
 *
 *   P sess:{T:S}     hash   c created, a last accessed, e expires (epoch ms), ttl, ar, mr, tm
 *                           (config), rq, er (request and error counts), lu, le (last url and
 *                           error, absent = null), trt, rn (render time sum and count)
 *   P meta:{T:S}     hash   the session's metadata
 *   P times:{T:S}    list   recent render times, capped to SESSION_RENDER_SAMPLES
 *   P state:{T:S}    string saved browser storage state
 *   P ids:{T}        zset   score 0, member S: the tenant's sessions in id order (ZRANGEBYLEX)
 *   P exp:{T}        zset   score expires_at, member S: the tenant's live count (ZCOUNT)
 *   P exp            zset   score expires_at, member "created|S|T": global live count, sweep
 *   P stats          hash   created, expired, removed, requests, render_ms, renders, sum_created
 *   P times          list   recent render times of all sessions, capped to GLOBAL_RENDER_SAMPLES
 *   P stats:{T}      hash   the same fields as P stats, over the tenant's sessions only
 *   P times:{T}      list   recent render times of the tenant's sessions, same cap
 *
 * Every script that changes a global stat changes the tenant's in the same atomic step, so
 * P stats is always the sum of the P stats:{T}; the tenant's live count is ZCOUNT of exp:{T}.
 *
 * The indexes are exact: every script that moves expires_at re-scores the session in both
 * expiry zsets in the same atomic step, so ZCOUNT (now, +inf] is the live count. Redis' own key
 * TTLs reclaim a session's keys shortly after it expires; the index entries of such a session
 * stay until a sweep, which needs nothing but the member itself ("created|S|T") to count it and
 * to keep sum_created exact.
 *
 * Expiry is `now >= expires_at`, with `now` from the caller (never Redis TIME), checked in
 * every script: an expired session is dropped (and counted as expired) the moment any
 * operation meets it, before Redis' TTL or a sweep gets to it.
 *
 * Cluster: the per-session keys carry one hash tag, but the scripts below also write the
 * tenant and global index/stat keys in the same atomic step (capacity is checked atomically in
 * the create script, counters never drift). That is exact on a single Redis node (and its
 * replicas/Sentinel), and it is what a Cluster forbids (CROSSSLOT). `list` and `sweep` also
 * reach session keys they compute from the index instead of receiving them in KEYS. Running on
 * a Cluster would mean splitting each script into its session-slot part and a second,
 * pipelined index/stats command, and giving up the atomic global capacity check.
 */

/** KEYS of every per-session script, in this order. */
export const SESSION_KEY_COUNT = 11;

/**
 * Shared prologue. ARGV[1..4] of every per-session script: tenant, session id, now (ms), and
 * the grace (ms) by which Redis' key TTL outlives expires_at.
 */
const PRELUDE = `
local K_SESS, K_META, K_TIMES, K_STATE = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local K_TIDS, K_TEXP, K_GEXP, K_STATS, K_GTIMES = KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local K_TSTATS, K_TTIMES = KEYS[10], KEYS[11]
local TENANT, SID, NOW_S = ARGV[1], ARGV[2], ARGV[3]
local NOW = tonumber(NOW_S)
local GRACE = tonumber(ARGV[4])

local function as_table(flat)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

local function index_member(created)
  return created .. '|' .. SID .. '|' .. TENANT
end

-- Adds to a stat field, globally and for the tenant.
local function stat(field, by)
  redis.call('HINCRBY', K_STATS, field, by)
  redis.call('HINCRBY', K_TSTATS, field, by)
end

-- Deletes the session and its index entries, counted under 'expired' or 'removed'.
local function drop(s, counter)
  redis.call('DEL', K_SESS, K_META, K_TIMES, K_STATE)
  redis.call('ZREM', K_TIDS, SID)
  redis.call('ZREM', K_TEXP, SID)
  redis.call('ZREM', K_GEXP, index_member(s.c))
  stat(counter, 1)
  stat('sum_created', '-' .. s.c)
end

-- The live session as a table (plus its raw HGETALL), or nil; an expired one is dropped now.
local function live()
  local flat = redis.call('HGETALL', K_SESS)
  if #flat == 0 then return nil, flat end
  local s = as_table(flat)
  if NOW >= tonumber(s.e) then
    drop(s, 'expired')
    return nil, flat
  end
  return s, flat
end

local function set_expiry(s, expires)
  s.e = expires
  redis.call('HSET', K_SESS, 'e', expires)
  redis.call('ZADD', K_TEXP, expires, SID)
  redis.call('ZADD', K_GEXP, expires, index_member(s.c))
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

-- Creates the session from ARGV[o..]: ttl, auto_renew, max_requests, track_metrics,
-- max_sessions, max_per_tenant, metadata pair count, then the pairs. Returns a refusal, or nil
-- and the new session (whose keys the caller still gives their TTL).
local function insert(o)
  local max_tenant = tonumber(ARGV[o + 5])
  local in_tenant = redis.call('ZCOUNT', K_TEXP, '(' .. NOW_S, '+inf')
  if in_tenant >= max_tenant then return { 'tenant_quota', in_tenant, max_tenant } end
  local max_total = tonumber(ARGV[o + 4])
  local total = redis.call('ZCOUNT', K_GEXP, '(' .. NOW_S, '+inf')
  if total >= max_total then return { 'capacity', total, max_total } end

  local ttl = ARGV[o]
  local s = { c = NOW_S, ttl = ttl, ar = ARGV[o + 1] }
  redis.call('DEL', K_META, K_TIMES, K_STATE)
  redis.call('HSET', K_SESS, 'c', NOW_S, 'a', NOW_S, 'ttl', ttl, 'ar', ARGV[o + 1], 'mr', ARGV[o + 2],
    'tm', ARGV[o + 3], 'rq', 0, 'er', 0, 'trt', 0, 'rn', 0)
  local pairs_count = tonumber(ARGV[o + 6])
  if pairs_count > 0 then
    redis.call('HSET', K_META, unpack(ARGV, o + 7, o + 6 + 2 * pairs_count))
  end
  redis.call('ZADD', K_TIDS, 0, SID)
  set_expiry(s, NOW + tonumber(ttl) * 1000)
  stat('created', 1)
  stat('sum_created', NOW_S)
  return nil, s
end
`;

const perSession = (body: string): string => `${PRELUDE}\n${body}`;

/** ARGV[5..]: the insert arguments. -> {'created'|'exists', session} | {refusal, live, max} */
const CREATE = perSession(`
local s, flat = live()
if s then return { 'exists', reply(flat) } end
local refused, created = insert(5)
if refused then return refused end
keep_until_expiry(created)
return { 'created', reply() }
`);

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
 * ARGV[5] '1' to create a missing session from ARGV[6..] (the insert arguments).
 * -> {'reserved', session, created 0|1, has_state 0|1, state} | {'limit', session}
 *    | {'not_found'} | {refusal, live, max}
 */
const RESERVE = perSession(`
local s = live()
local created = 0
if not s then
  if ARGV[5] ~= '1' then return { 'not_found' } end
  local refused = insert(6)
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
local state = redis.call('GET', K_STATE)
if state then return { 'reserved', reply(), created, 1, state } end
return { 'reserved', reply(), created, 0, '' }
`);

/**
 * ARGV[5] url, [6] render time ms, [7] '1' if failed, [8] error, [9] state op ('keep', 'set',
 * 'del'), [10] state, [11] -SESSION_RENDER_SAMPLES, [12] -GLOBAL_RENDER_SAMPLES.
 * -> {session} or {}
 */
const RECORD = perSession(`
local s = live()
if not s then return {} end
touch(s)
redis.call('HSET', K_SESS, 'lu', ARGV[5])
if ARGV[7] == '1' then
  redis.call('HINCRBY', K_SESS, 'er', 1)
  redis.call('HSET', K_SESS, 'le', ARGV[8])
elseif s.tm == '1' then
  redis.call('HINCRBYFLOAT', K_SESS, 'trt', ARGV[6])
  redis.call('HINCRBY', K_SESS, 'rn', 1)
  redis.call('RPUSH', K_TIMES, ARGV[6])
  redis.call('LTRIM', K_TIMES, ARGV[11], -1)
  redis.call('HINCRBYFLOAT', K_STATS, 'render_ms', ARGV[6])
  redis.call('HINCRBYFLOAT', K_TSTATS, 'render_ms', ARGV[6])
  stat('renders', 1)
  redis.call('RPUSH', K_GTIMES, ARGV[6])
  redis.call('LTRIM', K_GTIMES, ARGV[12], -1)
  redis.call('RPUSH', K_TTIMES, ARGV[6])
  redis.call('LTRIM', K_TTIMES, ARGV[12], -1)
end
if ARGV[9] == 'set' then
  redis.call('SET', K_STATE, ARGV[10])
elseif ARGV[9] == 'del' then
  redis.call('DEL', K_STATE)
end
keep_until_expiry(s)
return reply()
`);

/**
 * ARGV[5] max metadata keys, [6] ttl, [7] auto_renew, [8] max_requests, [9] track_metrics
 * ('' = unchanged), [10] '1' to clear the metadata, [11] n, then n triples (key, 's'|'d', value).
 * -> {'updated', session} | {'not_found'} | {'metadata_limit', keys}
 */
const UPDATE = perSession(`
local s = live()
if not s then return { 'not_found' } end
local n = tonumber(ARGV[11])
if ARGV[10] == '1' then
  redis.call('DEL', K_META)
elseif n > 0 then
  local count = redis.call('HLEN', K_META)
  for i = 0, n - 1 do
    local had = redis.call('HEXISTS', K_META, ARGV[12 + 3 * i])
    if ARGV[13 + 3 * i] == 's' then count = count + 1 - had else count = count - had end
  end
  if count > tonumber(ARGV[5]) then return { 'metadata_limit', count } end
  for i = 0, n - 1 do
    local key = ARGV[12 + 3 * i]
    if ARGV[13 + 3 * i] == 's' then
      redis.call('HSET', K_META, key, ARGV[14 + 3 * i])
    else
      redis.call('HDEL', K_META, key)
    end
  end
end
local fields = { 'ttl', 'ar', 'mr', 'tm' }
for i, field in ipairs(fields) do
  if ARGV[5 + i] ~= '' then redis.call('HSET', K_SESS, field, ARGV[5 + i]) end
end
-- A new TTL counts from the change, so shortening it cannot expire a session in the past.
if ARGV[6] ~= '' then set_expiry(s, NOW + tonumber(ARGV[6]) * 1000) end
keep_until_expiry(s)
return { 'updated', reply() }
`);

/** -> 1 removed, 0 not found */
const REMOVE = perSession(`
local s = live()
if not s then return 0 end
drop(s, 'removed')
return 1
`);

/** -> {0} not found | {1, has_state 0|1, state} */
const STORAGE_STATE = perSession(`
local s = live()
if not s then return { 0 } end
local state = redis.call('GET', K_STATE)
if state then return { 1, 1, state } end
return { 1, 0, '' }
`);

/**
 * KEYS: ids:{T}, exp:{T}. ARGV: prefix, tenant, now, limit, after ('' = from the start), scan
 * budget. Live sessions of the tenant in id order after `after`; stops after examining `budget`
 * index entries, so a tenant with many expired, not yet swept entries cannot make it slow.
 * -> {items ({session..., id}), more 0|1, cursor}: cursor is the last id examined when more
 * may follow.
 */
const LIST = `
local ids_key, exp_key = KEYS[1], KEYS[2]
local prefix, tenant = ARGV[1], ARGV[2]
local now = tonumber(ARGV[3])
local limit, budget = tonumber(ARGV[4]), tonumber(ARGV[6])
local start = '-'
if ARGV[5] ~= '' then start = '(' .. ARGV[5] end
local items, last, more, scanned = {}, '', 0, 0
local batch_size = math.min(limit + 1, 256)
while more == 0 do
  local batch = redis.call('ZRANGEBYLEX', ids_key, start, '+', 'LIMIT', 0, batch_size)
  if #batch == 0 then break end
  for _, sid in ipairs(batch) do
    local expires = redis.call('ZSCORE', exp_key, sid)
    if expires and tonumber(expires) > now then
      if #items == limit then
        more = 1
        break
      end
      local tag = '{' .. tenant .. ':' .. sid .. '}'
      local flat = redis.call('HGETALL', prefix .. 'sess:' .. tag)
      if #flat > 0 then
        items[#items + 1] = { flat, redis.call('HGETALL', prefix .. 'meta:' .. tag),
          redis.call('LRANGE', prefix .. 'times:' .. tag, 0, -1), sid }
        last = sid
      end
    end
    scanned = scanned + 1
    if scanned >= budget then
      more = 1
      last = sid
      break
    end
  end
  start = '(' .. batch[#batch]
end
return { items, more, last }
`;

/**
 * Removes up to `batch` global index entries that are due (expires_at <= now), with their keys
 * and tenant index entries, and counts them as expired, globally and per tenant (the tenant
 * is in the member). Returns how many entries it examined, how many expired, and the expired
 * per tenant as a flat list (tenant, count, ...).
 */
const SWEEP_BATCH = `
local function sweep_batch(gexp, stats, prefix, now_s, batch)
  local now = tonumber(now_s)
  local due = redis.call('ZRANGEBYSCORE', gexp, '-inf', now_s, 'LIMIT', 0, batch)
  local expired = 0
  local per_tenant, tenants = {}, {}
  for _, member in ipairs(due) do
    local created, sid, tenant = string.match(member, '^(%d+)|([^|]*)|(.*)$')
    if not created then
      redis.call('ZREM', gexp, member)
    else
      local tag = '{' .. tenant .. ':' .. sid .. '}'
      local sess = prefix .. 'sess:' .. tag
      local current = redis.call('HMGET', sess, 'c', 'e')
      if current[1] == created and tonumber(current[2]) > now then
        -- Not due after all (cannot happen while every expiry change re-scores; kept safe).
        redis.call('ZADD', gexp, current[2], member)
      else
        redis.call('ZREM', gexp, member)
        -- Its keys, unless the id now belongs to a newer session (this entry outlived its keys).
        if current[1] == created or not current[1] then
          redis.call('DEL', sess, prefix .. 'meta:' .. tag, prefix .. 'times:' .. tag, prefix .. 'state:' .. tag)
          redis.call('ZREM', prefix .. 'ids:{' .. tenant .. '}', sid)
          redis.call('ZREM', prefix .. 'exp:{' .. tenant .. '}', sid)
        end
        redis.call('HINCRBY', stats, 'sum_created', '-' .. created)
        redis.call('HINCRBY', prefix .. 'stats:{' .. tenant .. '}', 'sum_created', '-' .. created)
        expired = expired + 1
        if not per_tenant[tenant] then
          per_tenant[tenant] = 0
          tenants[#tenants + 1] = tenant
        end
        per_tenant[tenant] = per_tenant[tenant] + 1
      end
    end
  end
  if expired > 0 then redis.call('HINCRBY', stats, 'expired', expired) end
  local flat = {}
  for _, tenant in ipairs(tenants) do
    redis.call('HINCRBY', prefix .. 'stats:{' .. tenant .. '}', 'expired', per_tenant[tenant])
    flat[#flat + 1] = tenant
    flat[#flat + 1] = per_tenant[tenant]
  end
  return #due, expired, flat
end
`;

/** KEYS: exp (global), stats. ARGV: prefix, now, batch. -> {examined, expired, {tenant, n, ...}} */
const SWEEP = `${SWEEP_BATCH}
local examined, expired, per_tenant = sweep_batch(KEYS[1], KEYS[2], ARGV[1], ARGV[2], tonumber(ARGV[3]))
return { examined, expired, per_tenant }
`;

/**
 * KEYS: exp (global), stats (global), then the expiry zset, stats hash and times list to
 * answer from: the global ones (exp, stats, times) or a tenant's (exp:{T}, stats:{T},
 * times:{T}). ARGV: prefix, now, batch. Sweeps one (global) batch first, so that sum_created
 * covers live sessions only; when more is due than one batch, answers {0} and the caller
 * sweeps the rest and asks again. -> {1, live, stats, recent times} | {0}
 */
const METRICS = `${SWEEP_BATCH}
local batch = tonumber(ARGV[3])
local examined = sweep_batch(KEYS[1], KEYS[2], ARGV[1], ARGV[2], batch)
if examined >= batch then return { 0 } end
return { 1, redis.call('ZCOUNT', KEYS[3], '(' .. ARGV[2], '+inf'), redis.call('HGETALL', KEYS[4]),
  redis.call('LRANGE', KEYS[5], 0, -1) }
`;

export interface ScriptDefinition {
  lua: string;
  numberOfKeys: number;
}

/** Registered with ioredis defineCommand: EVALSHA, falling back to EVAL on NOSCRIPT. */
export const SESSION_SCRIPTS = {
  rtCreate: { lua: CREATE, numberOfKeys: SESSION_KEY_COUNT },
  rtGet: { lua: GET, numberOfKeys: SESSION_KEY_COUNT },
  rtTouch: { lua: TOUCH, numberOfKeys: SESSION_KEY_COUNT },
  rtReserve: { lua: RESERVE, numberOfKeys: SESSION_KEY_COUNT },
  rtRecord: { lua: RECORD, numberOfKeys: SESSION_KEY_COUNT },
  rtUpdate: { lua: UPDATE, numberOfKeys: SESSION_KEY_COUNT },
  rtRemove: { lua: REMOVE, numberOfKeys: SESSION_KEY_COUNT },
  rtStorageState: { lua: STORAGE_STATE, numberOfKeys: SESSION_KEY_COUNT },
  rtList: { lua: LIST, numberOfKeys: 2 },
  rtSweep: { lua: SWEEP, numberOfKeys: 2 },
  rtMetrics: { lua: METRICS, numberOfKeys: 5 },
} satisfies Record<string, ScriptDefinition>;

export type SessionScriptName = keyof typeof SESSION_SCRIPTS;
