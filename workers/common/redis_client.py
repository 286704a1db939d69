"""One Redis connection pool per process for the task store (db2)."""

from __future__ import annotations

from functools import lru_cache

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from config.settings import get_settings


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    # Retries ride out a Redis restart (AOF) without failing a recording.
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        health_check_interval=10,
        socket_connect_timeout=2,
        socket_timeout=10,
        retry=Retry(ExponentialBackoff(cap=2.0, base=0.1), retries=8),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )


def store_redis() -> redis.Redis:
    return _client(get_settings().store_url)


def forget_clients() -> None:
    _client.cache_clear()
