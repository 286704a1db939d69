"""The task store's atomic operations, as Lua run inside Redis.

Each script answers with a short word or number; ``workers.common.domain.store`` decodes every
answer into its outcome enums, in one place each, and nothing else reads them.
"""

from workers.common.domain.slots import LIVE_SLOTS_LUA

# Admit a new task and queue its Celery message, all or nothing -> 'ok' | 'limit' (the
# service is at its hard ceiling, ARGV[3] > 0) | 'slots:<live>' (its active tasks fill the live
# workers' slots, KEYS[7] and KEYS[8], or the ARGV[9] its autoscaler can bring it to, whichever
# is more; -1: slots not counted) | 'dup:<holder>' (the one-at-a-time key is held by a task
# not in ARGV[5], the terminal states). Redis runs a script alone but does not undo a write
# when a later command fails: everything that can fail is read and checked before the first
# write (a key of the wrong type is refused), and '#!lua' (flags declared, none allowing OOM)
# has Redis refuse the whole script up front when it is out of memory. The message (ARGV[7],
# empty: none) goes onto KEYS[6] in the broker's db ARGV[6]; the record in this db, ARGV[8];
# its fields from ARGV[10].
CREATE = (
    """#!lua
"""
    + LIVE_SLOTS_LUA
    + """
local function wrong_type(key, kind)
  local found = redis.call('TYPE', key)['ok']
  return found ~= 'none' and found ~= kind
end
local max_active = tonumber(ARGV[3])
local active = redis.call('SCARD', KEYS[4])
if max_active > 0 and active >= max_active then return 'limit' end
local autoscaled = tonumber(ARGV[9])
if autoscaled >= 0 then
  local live = live_slots(KEYS[7], KEYS[8])
  if active >= math.max(live, autoscaled) then return 'slots:' .. live end
end
if ARGV[4] == '1' then
  local holder = redis.call('GET', KEYS[5])
  if holder then
    local st = redis.call('HGET', 'capstan:task:' .. holder, 'status')
    local ended = string.find(',' .. ARGV[5] .. ',', ',' .. tostring(st) .. ',', 1, true)
    if st and not ended then return 'dup:' .. holder end
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 or wrong_type(KEYS[2], 'zset')
    or wrong_type(KEYS[3], 'zset') or wrong_type(KEYS[4], 'set') then
  return redis.error_reply('WRONGTYPE the task index holds another kind of value')
end
if ARGV[7] ~= '' then
  redis.call('SELECT', ARGV[6])
  if wrong_type(KEYS[6], 'list') then
    return redis.error_reply('WRONGTYPE the task queue holds another kind of value')
  end
  redis.call('LPUSH', KEYS[6], ARGV[7])
  redis.call('SELECT', ARGV[8])
end
if ARGV[4] == '1' then redis.call('SET', KEYS[5], ARGV[1]) end
redis.call('HSET', KEYS[1], unpack(ARGV, 10))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
return 'ok'
"""
)

# A record, its live figures and its callbacks, as one snapshot: one command, where a
# pipeline of three cost redis-py 76 µs of CPU against 59 µs for this, in every Describe
# (bench/dispatcher.py). 'no-writes' lets it run on a replica and when the master is full.
# -> {the record's fields and values, flat; the progress's, flat; the callbacks}
READ = """#!lua flags=no-writes
return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2]),
        redis.call('LRANGE', KEYS[3], 0, -1)}
"""

# Worker writes are fenced by epoch: a worker whose epoch is stale writes nothing.
# -> 'ok' | 'stale' | 'state:<status>' (in none of the expected states: nothing written).
FENCED_HSET = """
local cur = redis.call('HMGET', KEYS[1], 'epoch', 'status')
if cur[1] ~= ARGV[1] then return 'stale' end
if ARGV[2] ~= '' then
  local ok = false
  for s in string.gmatch(ARGV[2], '[^,]+') do if s == cur[2] then ok = true end end
  if not ok then return 'state:' .. tostring(cur[2]) end
end
if #ARGV > 2 then redis.call('HSET', KEYS[1], unpack(ARGV, 3)) end
return 'ok'
"""

# -> the list's new length, or -1: stale.
FENCED_RPUSH = """
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return -1 end
return redis.call('RPUSH', KEYS[2], ARGV[2])
"""

# Append after the ``known`` entries the worker listed. Fewer stored means the store lost
# its newest writes (a failover to a replica that had not got them, an AOF fsync window):
# 'lost' and how many are left, so that the worker lists the lost ones again, in order.
# More stored, ending with this entry: a retried call that had already appended.
# -> {'ok' | 'stale' | 'lost', entries stored before}.
FENCED_APPEND = """
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return {'stale', 0} end
local have = redis.call('LLEN', KEYS[2])
local known = tonumber(ARGV[2])
if have < known then return {'lost', have} end
if have > known and redis.call('LINDEX', KEYS[2], -1) == ARGV[#ARGV] then
  return {'ok', have}
end
redis.call('RPUSH', KEYS[2], unpack(ARGV, 3))
return {'ok', have}
"""

# -> 1 taken, 0 not (another epoch, or held).
LEASE_TAKE = """
if redis.call('HGET', KEYS[2], 'epoch') ~= ARGV[1] then return 0 end
if redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[3]) then
  redis.call('SADD', KEYS[3], ARGV[4])
  return 1
end
return 0
"""

LEASE_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

LEASE_DROP = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# The task's record is still there (not lost to a failover): mark it queued, a write that
# WAIT then covers, with every write this master took before it (the queue message too).
MARK_QUEUED = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'queued', ARGV[1])
return 1
"""

# -> the next epoch for a task nobody holds; -1 held, -2 nothing to do (gone or terminal).
BUMP_EPOCH = """
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local st = redis.call('HGET', KEYS[2], 'status')
if not st then return -2 end
for s in string.gmatch(ARGV[1], '[^,]+') do
  if s == st then return redis.call('HINCRBY', KEYS[2], 'epoch', 1) end
end
return -2
"""

# One service's figures, read at one instant -> {active, queued, live slots, live workers,
# warm slots or -1 (no live worker keeps any)}: its admission set (KEYS[1]), its slot adverts
# (KEYS[2..4]), its queue's list (KEYS[5] in the broker's db ARGV[1]).
CAPACITY = (
    """#!lua flags=no-writes
"""
    + LIVE_SLOTS_LUA
    + """
local active = redis.call('SCARD', KEYS[1])
local slots, workers, nodes = live_slots(KEYS[2], KEYS[3])
local warm = -1
if #nodes > 0 then
  for _, n in ipairs(redis.call('HMGET', KEYS[4], unpack(nodes))) do
    if n then warm = math.max(warm, 0) + tonumber(n) end
  end
end
redis.call('SELECT', ARGV[1])
return {active, redis.call('LLEN', KEYS[5]), slots, workers, warm}
"""
)
