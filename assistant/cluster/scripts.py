"""The Lua scripts the cluster runs inside Redis: one round trip each, atomic.

``FENCED`` is how a room's owner writes: the whole batch applies only while the
room's lease still holds the owner's token, so a worker that lost its room
(paused, cut off, presumed dead) can never write behind its successor.
``RANGE``, ``CORRECTED`` and ``VERSIONS`` read captions in their current
revision (the log entry as first made, or its newest correction).
"""

from __future__ import annotations

LEASE_LOST = "LEASE"  # prefix of the error FENCED raises when the lease is gone

# KEYS[1] lease; ARGV[1] token, then per command: its argument count, then the arguments.
FENCED = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('LEASE lost: this worker no longer owns the room')
end
local i = 2
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  redis.call(unpack(ARGV, i + 1, i + n))
  i = i + n + 1
end
return 1
"""

# KEYS[1] caption stream, KEYS[2] current versions; ARGV[1] start, ARGV[2] count, ARGV[3] "1" = newest first.
RANGE = """
local entries
if ARGV[3] == '1' then
  entries = redis.call('XREVRANGE', KEYS[1], ARGV[1], '-', 'COUNT', ARGV[2])
else
  entries = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])
end
local revised = redis.call('EXISTS', KEYS[2]) == 1
local out = {}
for i, e in ipairs(entries) do
  local cur = false
  if revised then cur = redis.call('HGET', KEYS[2], string.match(e[1], '^(%d+)')) end
  if cur then out[i] = cur else out[i] = e[2][2] end
end
return out
"""

# KEYS[1] a zset of seqs, KEYS[2] current versions; ARGV[1] min, ARGV[2] max score (ZRANGEBYSCORE syntax).
CORRECTED = """
local seqs = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2])
if #seqs == 0 then return {} end
return redis.call('HMGET', KEYS[2], unpack(seqs))
"""

# KEYS[1] langs, KEYS[2] ids; ARGV[1] the room's key prefix, ARGV[2] caption id.
VERSIONS = """
local out = {}
for _, lang in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local seq = redis.call('HGET', KEYS[2], ARGV[2] .. '|' .. lang)
  if seq then
    local cur = redis.call('HGET', ARGV[1] .. 'v:' .. lang, seq)
    if not cur then
      local e = redis.call('XRANGE', ARGV[1] .. 'c:' .. lang, seq .. '-0', seq .. '-0')
      if #e == 1 then cur = e[1][2][2] end
    end
    if cur then out[#out + 1] = cur end
  end
end
return out
"""

# KEYS[1] lease; ARGV[1] token, ARGV[2] ms. Renew only our own lease.
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

# KEYS[1] lease; ARGV[1] token. Give back only our own lease.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS[1] lease, KEYS[2] parked flag, KEYS[3] command stream, KEYS[4] audio stream; ARGV[1] token, ARGV[2] /
# ARGV[3] the last command / audio entry the owner read. The owner gives the room back (1: parked, when nothing
# came after what it read; 0: only released, so that a worker takes it again and reads what came); -1: not ours.
PARK = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('DEL', KEYS[1])
if #redis.call('XRANGE', KEYS[3], '(' .. ARGV[2], '+', 'COUNT', 1) > 0 then return 0 end
if #redis.call('XRANGE', KEYS[4], '(' .. ARGV[3], '+', 'COUNT', 1) > 0 then return 0 end
redis.call('SET', KEYS[2], '1')
return 1
"""

# KEYS[1] capture hash, KEYS[2] audio stream, KEYS[3] parked flag; ARGV[1] capture stream id, ARGV[2] its
# offset before this entry, ARGV[3] its new state, ARGV[4] MAXLEN, ARGV[5..] the entry's fields. Written (1)
# only by the room's current stream at the offset Redis has for it: an older connection, of this stream or
# another, on any web node, is refused (0: replaced); so is a stream that ended (-1). Audio for a parked
# room unparks it (a worker takes it and hears it).
CURRENT_STREAM = "~current"  # the capture hash's field naming the room's current stream (not a stream id)
CAPTURE_REPLACED, CAPTURE_ENDED = 0, -1  # (1: written)
CAPTURE_APPEND = """
local current = redis.call('HGET', KEYS[1], '~current')
if current and current ~= ARGV[1] then return 0 end
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local at = 0
if cur then
  local known = cjson.decode(cur)
  if known['ended'] then return -1 end
  at = known['out']
end
if at ~= tonumber(ARGV[2]) then return 0 end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', unpack(ARGV, 5))
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('DEL', KEYS[3])
return 1
"""
