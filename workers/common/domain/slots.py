"""Task slots: what each live worker of a pool advertises, and the farm's sum of them.

Keys (in the store's db, next to the records, so that a Start's script reads them):
    capstan:slots:{service}          zset: worker node -> when its advert expires (Redis's clock)
    capstan:slots:{service}:count    hash: worker node -> its slots (its Celery concurrency)
    capstan:slots:{service}:warm     hash: worker node -> its ready warm slots (panorama)

Every expiry is reckoned on Redis's own clock (TIME inside the scripts), so a worker whose clock
is off neither lives forever nor vanishes early. A worker that stops advertising (killed, hung,
partitioned) stops counting once its advert expires; a draining worker withdraws it at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

PREFIX = "capstan:slots"


def live_key(service: str) -> str:
    return f"{PREFIX}:{service}"


def count_key(service: str) -> str:
    return f"{PREFIX}:{service}:count"


def warm_key(service: str) -> str:
    return f"{PREFIX}:{service}:warm"


# Sum the slots of the workers whose advert has not expired: the Lua CREATE inlines this too.
LIVE_SLOTS_LUA = """
local function live_slots(live, counts)
  local t = redis.call('TIME')
  local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local nodes = redis.call('ZRANGEBYSCORE', live, now_ms, '+inf')
  local total = 0
  if #nodes > 0 then
    for _, n in ipairs(redis.call('HMGET', counts, unpack(nodes))) do
      total = total + (tonumber(n) or 0)
    end
  end
  return total, #nodes, nodes
end
"""

# Advertise ARGV[2] slots (ARGV[4] of them warm; '': the pool keeps none) of worker ARGV[1]
# for ARGV[3] ms, and forget expired adverts.
ADVERTISE = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now_ms)) do
  redis.call('HDEL', KEYS[2], gone)
  redis.call('HDEL', KEYS[3], gone)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now_ms)
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[4]) end
return 1
"""

WITHDRAW = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
"""


def _keys(service: str) -> list[str]:
    return [live_key(service), count_key(service), warm_key(service)]


class SlotBoard:
    """The adverts of one Redis db (the store's)."""

    def __init__(self, client: redis.Redis) -> None:
        self._advertise = client.register_script(ADVERTISE)
        self._withdraw = client.register_script(WITHDRAW)

    def advertise(
        self, service: str, node: str, slots: int, ttl_s: float, warm: int | None = None
    ) -> None:
        args: list[str | int] = [node, slots, int(ttl_s * 1000), "" if warm is None else warm]
        self._advertise(keys=_keys(service), args=args)

    def withdraw(self, service: str, node: str) -> None:
        self._withdraw(keys=_keys(service), args=[node])


@dataclass(frozen=True)
class Capacity:
    """One service's slots and demand, as the ops route and KEDA read them."""

    active: int  # admitted and not ended: queued or running (the admission set)
    queued: int  # waiting in the Celery queue for a worker
    slots: int  # live workers' slots
    workers: int  # live workers
    autoscaled: int  # slots the autoscaler can reach (CAPSTAN_ADMISSION_AUTOSCALED_SLOTS)
    ceiling: int  # the hard ceiling, 0: none (CAPSTAN_MAX_ACTIVE_TASKS)
    counts_slots: bool = True  # CAPSTAN_ADMISSION_COUNTS_SLOTS
    warm: int | None = None  # live workers' ready warm slots; None: none keeps any

    @property
    def demand(self) -> int:
        """Slots wanted now: every admitted task, queued or running. The queued ones are in
        the admission set already, so adding the queue's length would count them twice."""
        return self.active

    @property
    def busy(self) -> int:
        return max(self.active - self.queued, 0)

    @property
    def free(self) -> int:
        return max(self.slots - self.busy, 0)

    @property
    def admissible(self) -> int | None:
        """How many more Starts the admission rule (CREATE's Lua) takes now; None: no limit."""
        rooms = [max(self.slots, self.autoscaled)] if self.counts_slots else []
        if self.ceiling > 0:
            rooms.append(self.ceiling)
        return max(min(rooms) - self.active, 0) if rooms else None
