"""Readiness probes for deploy.local.stack.Ready: one quick attempt each, True when up."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Callable

from deploy.local.stack import Ready


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def tcp_open(address: str, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(_split(address), timeout=timeout):
            return True
    except OSError:
        return False


def redis_pong(address: str, timeout: float = 0.5) -> bool:
    """PING answered with PONG (a Redis still loading its AOF answers -LOADING)."""
    try:
        with socket.create_connection(_split(address), timeout=timeout) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def http_answers(url: str, timeout: float = 1.0) -> bool:
    """Any HTTP answer counts (a 404 or 401 still proves the server is serving)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):  # noqa: S310 - our own URL
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


def celery_pong(target: str, timeout: float = 1.0) -> bool:
    """The node answers a remote-control ping; target is '<node>|<broker url>'. A
    sentinel:// broker takes its master name and sentinel password from this process's
    Settings (the supervisor's and the tests' are the farm's)."""
    from celery import Celery
    from kombu.exceptions import OperationalError
    from redis.exceptions import RedisError

    from config import redis_url
    from config.settings import get_settings

    node, _, broker = target.partition("|")
    app = Celery("capstan-ready", broker=broker, set_as_current=False)
    target_redis = redis_url.parse(redis_url.base(broker))
    if target_redis.is_sentinel:
        settings = get_settings()
        app.conf.broker_transport_options = redis_url.transport_options(
            target_redis, settings.redis_master_name, settings.redis_sentinel_password
        )
    try:
        replies = app.control.ping(destination=[node], timeout=timeout)
    except (OSError, OperationalError, RedisError):
        return False  # not yet: e.g. a pooled connection from before a Redis restart
    finally:
        app.close()
    return any(node in reply for reply in replies)


PROBES: dict[str, Callable[[str], bool]] = {
    "tcp": tcp_open,
    "redis": redis_pong,
    "http": http_answers,
    "celery": celery_pong,
}


def is_ready(ready: Ready) -> bool:
    return PROBES[ready.kind](ready.target)
