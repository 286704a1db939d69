"""Everything a Redis holds, as text: to look for what must never be stored in clear."""

from __future__ import annotations

import base64
import json
from typing import Any

import redis


def redis_text(client_for: Any, dbs: tuple[int, ...] = (0, 1, 2)) -> str:
    """Every key and value of ``dbs`` (``client_for(db)`` -> a decoding redis.Redis, as
    RedisServer.client), with Celery message bodies base64-decoded beside them."""
    parts: list[str] = []
    for db in dbs:
        client = client_for(db)
        for key in client.scan_iter(count=1000):
            values = _values(client, key)
            parts += [key, *values, *map(decoded_body, values)]
    return "\n".join(parts)


def _values(client: redis.Redis, key: str) -> list[str]:
    kind = client.type(key)
    if kind == "string":
        return [client.get(key) or ""]
    if kind == "hash":
        return [f"{k}={v}" for k, v in client.hgetall(key).items()]
    if kind == "list":
        return list(client.lrange(key, 0, -1))
    if kind == "set":
        return list(client.smembers(key))
    if kind == "zset":
        return list(client.zrange(key, 0, -1))
    return [repr(client.dump(key))]


def decoded_body(value: str) -> str:
    """A Celery message's body (base64 JSON), or "" for any other value."""
    try:
        message = json.loads(value)
        return base64.b64decode(message["body"]).decode(errors="replace")
    except Exception:
        return ""
