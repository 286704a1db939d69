"""Where a push is in its source, kept in Redis so that a new Start resumes there (redis: true).

Key: ``capstan:push:progress:<sha256 of videoSrc|sdkAppId|roomId|userId>``, a hash
{Position, Duration, TaskID, UpdatedAt}, in the farm's task store (db2) or, when the
request names an allowed redisHost, in that Redis. Cleared when a push reaches the end.
"""

from __future__ import annotations

import hashlib
import logging
import time

import redis

from config.settings import Settings
from workers.common.domain.errors import Code, UserFault
from workers.common.domain.redis_client import store_redis
from workers.common.domain.specs.pusher import PusherStart

log = logging.getLogger(__name__)

PREFIX = "capstan:push:progress"


def progress_key(video_src: str, sdk_app_id: str, room_id: str, user_id: str) -> str:
    digest = hashlib.sha256(f"{video_src}|{sdk_app_id}|{room_id}|{user_id}".encode()).hexdigest()
    return f"{PREFIX}:{digest}"


class ProgressStore:
    def __init__(self, client: redis.Redis, key: str, ttl_s: int) -> None:
        self.client = client
        self.key = key
        self.ttl_s = ttl_s
        self._warned = False

    def load(self) -> float | None:
        """The stored position in seconds, or None when there is none."""
        try:
            value = self.client.hget(self.key, "Position")
        except redis.RedisError as exc:
            raise UserFault(
                f"the progress Redis cannot be read: {exc}", code=Code.REDIS_UNAVAILABLE
            ) from exc
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            return None

    def save(self, position_s: float, duration_s: float | None, task_id: str) -> None:
        fields = {
            "Position": f"{position_s:.3f}",
            "Duration": f"{duration_s:.3f}" if duration_s else "",
            "TaskID": task_id,
            "UpdatedAt": f"{time.time():.3f}",
        }
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.hset(self.key, mapping=fields)  # type: ignore[arg-type]
            pipe.expire(self.key, self.ttl_s)
            pipe.execute()
            self._warned = False
        except redis.RedisError as exc:
            # The push goes on; a resume would start a little earlier.
            if not self._warned:
                log.warning("push progress not saved (%s): %s", self.key, exc)
                self._warned = True

    def clear(self) -> None:
        try:
            self.client.delete(self.key)
        except redis.RedisError as exc:
            log.warning("push progress not cleared (%s): %s", self.key, exc)


def progress_store(spec: PusherStart, settings: Settings) -> ProgressStore:
    """The request's own Redis when it names an allowed redisHost, else the task store."""
    key = progress_key(spec.videoSrc, spec.sdkAppId, spec.roomId, spec.userId)
    client = store_redis()
    if spec.redisHost:
        password = spec.redisPassword.get_secret_value() if spec.redisPassword else None
        client = redis.Redis(
            host=spec.redisHost,
            port=spec.redisPort,
            password=password,
            decode_responses=True,
            socket_connect_timeout=2,
            socket_timeout=5,
        )
    return ProgressStore(client, key, settings.push_progress_ttl_s)
