"""HMAC request signing (DESIGN section 3), for the dispatcher and for clients.

    X-Capstan-Key        the application key
    X-Capstan-Date       RFC 1123 date or unix seconds
    X-Capstan-Signature  hex HMAC-SHA256(secret, f"{method}\\n{path}\\n{date}\\n{sha256hex(body)}")

``path`` is the request path with its query string, if any (``/v1/tasks?limit=5``).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from email.utils import formatdate, parsedate_to_datetime
from typing import Protocol

from workers.common.domain.errors import AuthFailure

KEY_HEADER = "X-Capstan-Key"
DATE_HEADER = "X-Capstan-Date"
SIGNATURE_HEADER = "X-Capstan-Signature"


class HeaderLookup(Protocol):
    """A dict, or a case-insensitive header map (werkzeug's Headers)."""

    def get(self, key: str, /) -> str | None: ...


def string_to_sign(method: str, path: str, date: str, body: bytes) -> str:
    digest = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{path}\n{date}\n{digest}"


def signature(secret: str, method: str, path: str, date: str, body: bytes) -> str:
    message = string_to_sign(method, path, date, body).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_request(
    method: str, path: str, body: bytes, key: str, secret: str, *, date: str | None = None
) -> dict[str, str]:
    """The headers that authenticate this request."""
    date = date or formatdate(usegmt=True)
    return {
        KEY_HEADER: key,
        DATE_HEADER: date,
        SIGNATURE_HEADER: signature(secret, method, path, date, body),
    }


def parse_date(value: str) -> float:
    """Unix seconds from an RFC 1123 date or a number of seconds."""
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        raise AuthFailure(f"{DATE_HEADER} is not an RFC 1123 date or unix seconds") from None


def verify(
    method: str,
    path: str,
    body: bytes,
    headers: HeaderLookup,
    keys: Mapping[str, str],
    *,
    max_skew_s: float,
    now: float | None = None,
) -> str:
    """The application key of a correctly signed request; AuthFailure otherwise."""
    key = headers.get(KEY_HEADER)
    date = headers.get(DATE_HEADER)
    given = headers.get(SIGNATURE_HEADER)
    if not key or not date or not given:
        missing = [
            h
            for h, v in ((KEY_HEADER, key), (DATE_HEADER, date), (SIGNATURE_HEADER, given))
            if not v
        ]
        raise AuthFailure(f"request not signed: {', '.join(missing)} missing")
    secret = keys.get(key)
    if secret is None:
        raise AuthFailure("unknown application key")
    moment = parse_date(date)
    if abs((time.time() if now is None else now) - moment) > max_skew_s:
        raise AuthFailure("request date too old or in the future")
    expected = signature(secret, method, path, date, body)
    if not hmac.compare_digest(expected, given.strip().lower()):
        raise AuthFailure("bad signature")
    return key
