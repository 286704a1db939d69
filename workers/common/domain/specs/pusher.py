"""pusher Start (seed 003, lower-camel names): push a file or a live stream into a room."""

from __future__ import annotations

import ipaddress
import socket
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, field_validator

from config.settings import get_settings
from workers.common.domain.specs.base import Spec
from workers.common.domain.specs.fields import (
    Between,
    IdString,
    Int,
    Number,
    OptionalSecret,
    Secret,
    check_url,
    pattern,
    safe_path,
)
from workers.common.domain.specs.recorder import (
    STR_ROOM_ID,
    STR_ROOM_ID_WHAT,
    USER_ID,
    USER_ID_WHAT,
)

LIVE_SCHEMES = ("rtmp", "rtmps")
URL_SCHEMES = ("http", "https", "s3", *LIVE_SCHEMES)


def video_source(value: str) -> str:
    """An http(s) URL, s3://bucket/key, rtmp(s):// live stream, or a relative path of a
    file in the farm's media directory."""
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    scheme = urlsplit(value).scheme.lower() if "://" in value else ""
    if scheme == "s3":
        parts = urlsplit(value)
        if not parts.netloc or not parts.path.strip("/"):
            raise ValueError("must be s3://bucket/key")
        return value
    if scheme:
        return check_url(value, URL_SCHEMES)
    if value.startswith("/") or ":" in value.split("/")[0]:
        raise ValueError(
            "must be an http(s), s3 or rtmp(s) URL, or a path relative to the media directory"
        )
    return safe_path(value)


def redis_host_allowed(host: str) -> bool:
    """Whether every address ``host`` stands for is in Settings.redis_host_allowlist."""
    networks = [ipaddress.ip_network(n, strict=False) for n in get_settings().redis_host_allowlist]
    if not networks:
        return False
    try:
        addresses = {ipaddress.ip_address(host)}
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            return False
        addresses = {ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos}
    return bool(addresses) and all(any(a in n for n in networks) for a in addresses)


def _allowed_redis_host(host: str) -> str:
    if not redis_host_allowed(host):
        raise ValueError(
            f"{host} is not allowed: the farm keeps progress in its own Redis "
            "(allowlist: CAPSTAN_REDIS_HOST_ALLOWLIST)"
        )
    return host


class PusherStart(Spec):
    videoSrc: Annotated[str, AfterValidator(video_source)]
    sdkAppId: Annotated[IdString, pattern(r"[0-9]{1,10}", "a number (as a string)")]
    roomId: Annotated[IdString, pattern(STR_ROOM_ID, STR_ROOM_ID_WHAT)]
    userId: Annotated[IdString, pattern(USER_ID, USER_ID_WHAT)]
    userSig: Secret
    clientRole: Literal["anchor", "audience"] = "anchor"
    redis: bool = False
    redisHost: Annotated[str, Field(min_length=1, max_length=253)] | None = None
    redisPort: Annotated[Int, Between(1, 65535)] = 6379
    redisPassword: OptionalSecret = None
    # Extensions beyond the seed.
    SeekSecond: Annotated[Number, Between(0)] = 0.0
    Loop: Annotated[Int, Between(-1)] = 0  # -1: forever, 0: once, n: n more times
    MaxIdleTime: Annotated[Int, Between(1, 3600)] = 300

    @field_validator("redisHost")
    @classmethod
    def _redis_host(cls, value: str | None) -> str | None:
        # The message names the field itself: "redisHost <h> is not allowed: ...".
        if value is not None:
            _allowed_redis_host(value)
        return value

    @property
    def is_live(self) -> bool:
        return urlsplit(self.videoSrc).scheme.lower() in LIVE_SCHEMES
