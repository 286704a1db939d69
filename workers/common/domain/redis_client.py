"""One Redis connection pool per process for the task store (db2), on one Redis or on the
current master of a Sentinel group (a failover is followed: a connection that finds its
server gone or demoted asks the sentinels again)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from config.redis_url import parse, sentinel_kwargs, with_db
from config.settings import Settings, get_settings

# Workers ride out a Redis restart or a failover (~10 s of retries) without failing a
# recording; the dispatcher answers 503 after ~1 s instead of holding the request.
PATIENT_RETRIES = 8
QUICK_RETRIES = 2


def make_client(
    url: str,
    db: int,
    *,
    master_name: str,
    sentinel_password: str,
    retries: int,
    timeout_s: float = 10.0,
) -> redis.Redis:
    """A new client of ``db`` (one Redis, or the master of a Sentinel group)."""
    target = parse(url)
    cap = 2.0 if retries >= PATIENT_RETRIES else 0.5
    options: dict[str, Any] = {
        "decode_responses": True,
        "health_check_interval": 10,
        "socket_connect_timeout": min(2.0, timeout_s),
        "socket_timeout": timeout_s,
        "retry": Retry(ExponentialBackoff(cap=cap, base=0.1), retries=retries),
        "retry_on_error": [redis.ConnectionError, redis.TimeoutError],
    }
    if not target.is_sentinel:
        return redis.Redis.from_url(with_db(url, db), **options)
    # One quick try per sentinel (redis-py's default retries each for seconds: a Start
    # took 36 s with no sentinel answering); not in Celery's options, which must be JSON.
    quick = {**sentinel_kwargs(sentinel_password), "retry": Retry(NoBackoff(), 0)}
    sentinels = Sentinel(list(target.sentinels), sentinel_kwargs=quick)
    login: dict[str, Any] = {"username": target.username, "password": target.password}
    return sentinels.master_for(master_name, redis.Redis, db=db, **login, **options)


_client = lru_cache(maxsize=8)(make_client)


def redis_for(settings: Settings, db: int, retries: int = PATIENT_RETRIES) -> redis.Redis:
    """The process's client of ``db`` on the farm's Redis (its current master, with
    Sentinel)."""
    master, password = settings.redis_master_name, settings.redis_sentinel_password
    return _client(
        settings.redis_url, db, master_name=master, sentinel_password=password, retries=retries
    )


def store_redis(retries: int = PATIENT_RETRIES) -> redis.Redis:
    settings = get_settings()
    return redis_for(settings, settings.store_db, retries)


def forget_clients() -> None:
    _client.cache_clear()
