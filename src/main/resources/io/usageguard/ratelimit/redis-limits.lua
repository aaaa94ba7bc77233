--[[
Usage Guard rate limits in Redis (RedisLimitStore): everything requests do on the keys of one hash
slot, in one call. Loaded once with SCRIPT LOAD and run with EVALSHA.

One call carries the requests that reached this replica's store while its previous call was on the
way (one or more, in the order they arrived), each applied after the one before, all in one
atomic script run; a bucket several of them use is read once and written once.

ARGV[1]: the number of bucket configurations; then each: the number of windows n, and n times:
window id, window length in microseconds, limit (> 0). Then the number of requests; then per
request its arguments, and KEYS holds its keys in the same order (its buckets first, then its
concurrency counters). A request's arguments:
  [1] operation: 'a' = admit (check everything, then take), 's' = settle (give back or charge
      tokens, free the request's concurrency slots)
  [2] now, in microseconds since the epoch: the gateway's clock, not Redis TIME (tests move time by
      hand, and bucket4j's local buckets count the same way)
  [3] the caller's configuration version (strictly increasing across reloads)
  [4] number of bucket keys
  [5] lease id (replica id + sequence)
  [6] admit only: 0 = all or none (nothing is taken unless every bucket and counter has room),
      1 = each bucket by itself and the counters together (shadow mode: what passes is counted),
      2 = check only (the request is refused anyway; report, take nothing)
  [7] lease TTL in milliseconds
  [8] number of keys (buckets and counters)
  then per bucket: the amount (admit), or the delta (settle: > 0 gives back that many, < 0 takes
      up to that many, never below zero), and its configuration (1-based index)
  then, admit only, per counter: its limit

Bucket: a token bucket per window, bucket4j's greedy refill: capacity = limit, refilled
continuously by `limit` tokens per window length, in whole tokens with the remainder kept exactly
(bucket4j's "rounding error", here in microsecond-tokens). One string per bucket: 'U1' followed by
a MessagePack array
  { version, last refill time, then per window: id, length, limit, tokens, remainder }
with a TTL of the time it needs to be full again plus one minute. A full bucket is the same as no
key, so it is deleted. Anything else under the key (nothing, or an old bucket4j state) counts as
a full bucket.

Lua numbers are doubles: integers below 2^53 are exact. Times are microseconds (about 2^51 in
this century); products that could pass 2^52 fall back to floating point and drop the
remainder, as bucket4j does on 64-bit overflow.

Counter: a sorted set of lease ids scored by their expiry (milliseconds); when it looks full,
expired leases (of a replica that died) are dropped and it is counted again. Its TTL is the lease
TTL, set whenever a lease is added; the gateway renews its live leases (and the TTL).

The call returns, per request, the length of its answer followed by the answer. Admit answers
{ full counter index (0-based, -1: none), counters taken (1/0), then per bucket: status (0 = not
enough, 1 = taken, 2 = enough but not taken), microseconds to wait until the amount is there (0
when enough; -1: never, the amount exceeds a window), then per window of the caller: tokens
available (after taking the amount, when there was enough) }.
Settle answers nothing (length 0).
]]

local EXACT = 4503599627370496 -- 2^52
local W = 5 -- fields per window in a bucket's state: id, length, limit, tokens, remainder
local call, tonumber, fmod, floor, ceil, sub = redis.call, tonumber, math.fmod, math.floor, math.ceil, string.sub
local pack, unpack = cmsgpack.pack, cmsgpack.unpack
local KEYS, ARGV = KEYS, ARGV

-- a // b for integers below 2^53 (fmod is exact, so no rounding in the quotient)
local function idiv(a, b)
  return (a - fmod(a, b)) / b
end

-- A new bucket: every window full.
local function fresh(version, now, cfg)
  local st = { version, now }
  for i = 1, #cfg, 3 do
    local n = #st
    st[n + 1], st[n + 2], st[n + 3], st[n + 4], st[n + 5] = cfg[i], cfg[i + 1], cfg[i + 2], cfg[i + 2], 0
  end
  return st
end

-- A configuration reload: the caller's windows, each matched by id with the stored one (bucket4j's
-- TokensInheritanceStrategy.ADDITIVE): a raised limit keeps the deficit (2 of 2 used, raised to 4:
-- 2 left), a lowered one keeps what is left, at most the new limit. A new window starts full, a
-- removed one is dropped.
local function reconfigure(old, version, cfg)
  local st = { version, old[2] }
  for i = 1, #cfg, 3 do
    local id, len, cap = cfg[i], cfg[i + 1], cfg[i + 2]
    local tokens, rem = cap, 0
    for j = 3, #old, W do
      if old[j] == id then
        local ocap, otokens, orem = old[j + 2], old[j + 3], old[j + 4]
        if otokens >= ocap then
          tokens = cap
        elseif cap <= ocap then
          if otokens < cap then
            tokens, rem = otokens, orem
          end
        else
          tokens, rem = otokens + cap - ocap, orem
        end
        if rem >= len then
          rem = len - 1
        end
        break
      end
    end
    local n = #st
    st[n + 1], st[n + 2], st[n + 3], st[n + 4], st[n + 5] = id, len, cap, tokens, rem
  end
  return st
end

-- Greedy refill of every window up to now (a clock behind the last refill refills nothing).
local function refill(st, now)
  local elapsed = now - st[2]
  if elapsed <= 0 then
    return
  end
  st[2] = now
  for j = 3, #st, W do
    local len, cap, tokens, rem = st[j + 1], st[j + 2], st[j + 3], st[j + 4]
    if tokens < cap then
      local d = elapsed
      if d > len then
        tokens = tokens + idiv(d, len) * cap -- a whole limit per whole window length
        d = fmod(d, len)
      end
      if tokens < cap then
        local divided = d * cap + rem
        if divided < EXACT then
          rem = fmod(divided, len)
          tokens = tokens + (divided - rem) / len
        else
          tokens, rem = tokens + floor(d / len * cap), 0
        end
      end
      if tokens >= cap then
        tokens, rem = cap, 0
      end
      st[j + 3], st[j + 4] = tokens, rem
    end
  end
end

-- Microseconds until the window at j holds `amount` tokens (0: it does; -1: never, more than the limit).
local function wait(st, j, amount)
  local len, cap, tokens, rem = st[j + 1], st[j + 2], st[j + 3], st[j + 4]
  if amount <= tokens then
    return 0
  end
  if amount > cap then
    return -1
  end
  local deficit = amount - tokens
  local divided = deficit * len
  if divided < EXACT then
    local num = divided - rem
    local q = idiv(num, cap)
    if fmod(num, cap) > 0 then
      q = q + 1
    end
    return q
  end
  return ceil(deficit / cap * len)
end

-- The states this call has read, by key: a table, or false for none (a full bucket). Every bucket is
-- read once per call and written once at its end, however many of the call's requests use it.
local cache, dirty, dirtyList = {}, {}, {}
-- the bucket configurations of this call: { window id, length, limit, ... }
local specs = {}
-- the concurrency counters this call has counted (ZCARD once, then kept up to date by what ZADD and
-- ZREM report), and those that got a lease: their TTL is set once, when the call ends
local counts, expires, expiryList = {}, {}, {}

local function recount(key)
  local n = call('ZCARD', key)
  counts[key] = n
  return n
end

local function count(key)
  return counts[key] or recount(key)
end

-- The state of a bucket, re-configured when the caller's configuration is newer and refilled up to
-- now; nil when there is none (a full bucket). A caller with an older configuration than the stored
-- one uses the stored one: replicas that reloaded win over those still on the old file.
local function load(key, version, now, cfg)
  local st = cache[key]
  if st == nil then
    local raw = call('GET', key)
    st = false
    if raw and sub(raw, 1, 2) == 'U1' then
      st = unpack(sub(raw, 3))
    end
    cache[key] = st
  end
  if not st then
    return nil
  end
  if st[1] < version then
    st = reconfigure(st, version, cfg)
    cache[key] = st
  end
  refill(st, now)
  return st
end

-- Marks a bucket's state as changed: it is stored when the call ends.
local function keep(key, st)
  cache[key] = st
  if not dirty[key] then
    dirty[key] = true
    dirtyList[#dirtyList + 1] = key
  end
end

-- Stores a bucket with a TTL of the time until every window is full again plus a minute; a full
-- bucket is deleted.
local function save(key, st)
  local full = 0
  for j = 3, #st, W do
    local cap = st[j + 2]
    local missing = cap - st[j + 3]
    if missing > 0 then
      local t = missing * st[j + 1] / cap -- microseconds (floating point: near enough for a TTL)
      if t > full then
        full = t
      end
    end
  end
  if full == 0 then
    call('DEL', key)
  else
    call('SET', key, 'U1' .. pack(st), 'PX', ceil(full / 1000) + 60000)
  end
end

-- One request's operation: its keys start after KEYS[k], its arguments at ARGV[a]. Returns its
-- answer (a table) and where the next request's arguments start.
local function one(k, a)
  local op = ARGV[a]
  local now = tonumber(ARGV[a + 1])
  local version = tonumber(ARGV[a + 2])
  local nb = tonumber(ARGV[a + 3])
  local lease = ARGV[a + 4]
  local mode = tonumber(ARGV[a + 5])
  local ttl = tonumber(ARGV[a + 6])
  local nk = tonumber(ARGV[a + 7])
  a = a + 8

  -- the caller's buckets: amount (or delta) and windows { id, length, limit, ... }
  local amounts, cfgs = {}, {}
  for b = 1, nb do
    amounts[b], cfgs[b] = tonumber(ARGV[a]), specs[tonumber(ARGV[a + 1])]
    a = a + 2
  end

  if op == 's' then
    for b = 1, nb do
      local key, delta = KEYS[k + b], amounts[b]
      local st = delta ~= 0 and load(key, version, now, cfgs[b])
      if delta > 0 and st then
        -- give back, never above the limit (bucket4j's addTokens); no state: full already
        for j = 3, #st, W do
          if st[j + 3] + delta >= st[j + 2] then
            st[j + 3], st[j + 4] = st[j + 2], 0
          else
            st[j + 3] = st[j + 3] + delta
          end
        end
        keep(key, st)
      elseif delta < 0 then
        -- take as many as there are, alike in every window (bucket4j's tryConsumeAsMuchAsPossible)
        st = st or fresh(version, now, cfgs[b])
        local take = -delta
        for j = 3, #st, W do
          if st[j + 3] < take then
            take = st[j + 3]
          end
        end
        if take > 0 then
          for j = 3, #st, W do
            st[j + 3] = st[j + 3] - take
          end
          keep(key, st)
        end
      end
    end
    for i = k + nb + 1, k + nk do
      local key = KEYS[i]
      local removed = call('ZREM', key, lease)
      if counts[key] then
        counts[key] = counts[key] - removed
      end
    end
    return {}, a
  end

  -- admit: first check everything ...
  local states, enough = {}, {}
  local all = true
  for b = 1, nb do
    local st = load(KEYS[k + b], version, now, cfgs[b]) or fresh(version, now, cfgs[b])
    local ok = true
    for j = 3, #st, W do
      if st[j + 3] < amounts[b] then
        ok = false
      end
    end
    states[b], enough[b] = st, ok
    all = all and ok
  end
  local nowMillis = floor(now / 1000)
  local full = -1
  local nc = nk - nb
  for c = 1, nc do
    local key, limit = KEYS[k + nb + c], tonumber(ARGV[a + c - 1])
    -- expired leases (of a replica that died) are dropped when they would make the difference
    if count(key) >= limit
        and (call('ZREMRANGEBYSCORE', key, '-inf', nowMillis) == 0 or recount(key) >= limit) then
      full = c - 1
      break
    end
  end
  a = a + nc

  -- ... then take, by the mode
  local takeCounters = full < 0 and (mode == 1 or (mode == 0 and all))
  local out = { full, takeCounters and 1 or 0 }
  local o = 2
  for b = 1, nb do
    local st, amount = states[b], amounts[b]
    local take = enough[b] and (mode == 1 or (mode == 0 and all and full < 0))
    local longest = 0
    if not enough[b] then
      for j = 3, #st, W do
        local w = wait(st, j, amount)
        if w < 0 or longest < 0 then
          longest = -1
        elseif w > longest then
          longest = w
        end
      end
    end
    out[o + 1] = enough[b] and (take and 1 or 2) or 0
    out[o + 2] = longest
    o = o + 2
    -- tokens available in each of the caller's windows, found by id (after taking the amount, when
    -- there was enough, whether or not it was taken)
    local cfg = cfgs[b]
    local after = enough[b] and amount or 0
    for i = 1, #cfg, 3 do
      local available = cfg[i + 2]
      for j = 3, #st, W do
        if st[j] == cfg[i] then
          available = st[j + 3] - after
          break
        end
      end
      o = o + 1
      out[o] = available
    end
    if take then
      for j = 3, #st, W do
        st[j + 3] = st[j + 3] - amount
      end
      keep(KEYS[k + b], st)
    end
  end
  if takeCounters then
    local expiry = nowMillis + ttl
    for c = 1, nc do
      local key = KEYS[k + nb + c]
      counts[key] = count(key) + call('ZADD', key, expiry, lease)
      if not expires[key] then
        expiryList[#expiryList + 1] = key
      end
      expires[key] = ttl
    end
  end
  return out, a
end

-- the bucket configurations the requests refer to, each sent once per call
local a = 2
for s = 1, tonumber(ARGV[1]) do
  local n = tonumber(ARGV[a])
  a = a + 1
  local cfg = {}
  for q = 0, n - 1 do
    cfg[3 * q + 1], cfg[3 * q + 2], cfg[3 * q + 3] = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
    a = a + 3
  end
  specs[s] = cfg
end

-- the requests in the order they were sent; each answer is preceded by its length
local n = tonumber(ARGV[a])
local result = {}
local k = 0
a = a + 1
for _ = 1, n do
  local nk = tonumber(ARGV[a + 7])
  local out
  out, a = one(k, a)
  k = k + nk
  result[#result + 1] = #out
  for i = 1, #out do
    result[#result + 1] = out[i]
  end
end
for _, key in ipairs(dirtyList) do
  save(key, cache[key])
end
for _, key in ipairs(expiryList) do
  call('PEXPIRE', key, expires[key])
end
return result
