"""CAPSTAN_REDIS_URL, read once: one Redis (``redis://``, ``rediss://``, ``unix://``) or a
Sentinel-managed group (``sentinel://``), as kombu and Celery spell it.

A Sentinel URL lists the sentinels, separated by ``;``; the password of the first one
(``sentinel://:password@host:26379;sentinel://host:26379``) is the Redis master's (and its
replicas'), as kombu reads it. The sentinels' own password and the master's name are
separate settings (CAPSTAN_REDIS_SENTINEL_PASSWORD, CAPSTAN_REDIS_MASTER_NAME).

Pure functions: no connection is made here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

SENTINEL = "sentinel"
PLAIN_SCHEMES = ("redis", "rediss", "unix")
DEFAULT_SENTINEL_PORT = 26379


@dataclass(frozen=True)
class RedisTarget:
    """What a URL points at: the sentinels (none for one Redis) and the master's login."""

    url: str = field(repr=False)
    sentinels: tuple[tuple[str, int], ...] = ()
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in a log line

    @property
    def is_sentinel(self) -> bool:
        return bool(self.sentinels)

    @property
    def hosts(self) -> list[str]:
        """Every host name the farm reaches Redis through (the sentinels, or the one)."""
        if self.is_sentinel:
            return [host for host, _ in self.sentinels]
        return [urlsplit(self.url).hostname or "localhost"]


def _chunks(url: str) -> list[str]:
    """A sentinel list's URLs; one Redis URL whole (its password may hold a ';')."""
    if not url.strip().startswith(f"{SENTINEL}://"):
        return [url.strip()] if url.strip() else []
    return [chunk.strip() for chunk in url.split(";") if chunk.strip()]


def parse(url: str) -> RedisTarget:
    """The target of CAPSTAN_REDIS_URL; ValueError (never echoing a password) when wrong."""
    chunks = _chunks(url)
    if not chunks:
        raise ValueError("empty Redis URL")
    schemes = {urlsplit(chunk).scheme for chunk in chunks}
    if schemes != {SENTINEL}:
        if SENTINEL in schemes:
            raise ValueError("list only sentinel:// URLs, separated by ';'")
        if schemes - set(PLAIN_SCHEMES):
            raise ValueError("a Redis URL starts with redis://, rediss://, unix:// or sentinel://")
        return RedisTarget(url)
    sentinels = []
    for chunk in chunks:
        parts = urlsplit(chunk)
        if not parts.hostname:
            raise ValueError("every sentinel:// URL needs a host")
        if parts.path.strip("/"):
            raise ValueError("give sentinel:// URLs without a db (the farm picks its dbs)")
        sentinels.append((parts.hostname, parts.port or DEFAULT_SENTINEL_PORT))
    first = urlsplit(chunks[0])
    return RedisTarget(
        ";".join(chunks),
        tuple(sentinels),
        unquote(first.username) if first.username else None,
        unquote(first.password) if first.password else None,
    )


def with_db(url: str, db: int) -> str:
    """The URL of one db: appended to each sentinel's URL (Celery's result backend reads
    the db from each), or to the one Redis URL."""
    return ";".join(f"{chunk.rstrip('/')}/{db}" for chunk in _chunks(url))


def base(url: str) -> str:
    """``url`` without its db (what with_db appended)."""
    if not url.startswith(f"{SENTINEL}://"):
        return url  # one Redis: any db in it is harmless (a unix socket's path is no db)
    return ";".join(urlsplit(c)._replace(path="").geturl() for c in _chunks(url))


def sentinel_kwargs(password: str) -> dict:
    """How to talk to a sentinel: a short timeout, their password if any. (Plain values
    only: Celery's options travel as JSON, e.g. to Flower.)"""
    kwargs: dict = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0}
    if password:
        kwargs["password"] = password
    return kwargs


def transport_options(target: RedisTarget, master_name: str, sentinel_password: str) -> dict:
    """kombu's broker / Celery's result backend options for ``target``: with Sentinel, the
    master's name and the sentinels' login; short timeouts, so that a dead master is
    noticed (and the next one asked for) in seconds, not after a TCP timeout."""
    options: dict = {"socket_keepalive": True, "health_check_interval": 10}
    if not target.is_sentinel:
        return options
    return {
        **options,
        "master_name": master_name,
        "sentinel_kwargs": sentinel_kwargs(sentinel_password),
        # The message is the worker's once popped: an ack is no Redis write, so none can
        # fail mid-failover (kombu 5.7 then drops the task and stops the consumer). A
        # popped message that never starts is the reconciler's (requeue_unstarted).
        "ack_emulation": False,
        "socket_timeout": 10.0,
        "socket_connect_timeout": 2.0,
    }
