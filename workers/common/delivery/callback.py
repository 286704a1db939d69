"""Callback delivery: POST JSON, signed, retried with exponential backoff for minutes
(the policy's window; workers.common.pacing.backoff).

Header ``X-Capstan-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`` lets
the receiver check the body came from this farm (the Stripe-style scheme: the timestamp
inside the MAC stops replays).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from workers.common.domain import urlpolicy
from workers.common.pacing.backoff import Clock, Retries, RetryPolicy, Sleep

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    ok: bool
    attempts: int
    last_error: str


def signature(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def deliver(
    url: str,
    payload: dict[str, Any],
    *,
    secret: str,
    policy: RetryPolicy,
    timeout_s: float,
    record_attempt: Callable[[dict[str, Any]], None],
    should_stop: Callable[[], bool] = lambda: False,
    allowlist: Sequence[str] = (),
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
) -> Delivery:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    retries = Retries(policy, clock=clock, sleep=sleep)
    attempt = 0
    last_error = ""
    while True:
        attempt += 1
        headers = {"Content-Type": "application/json", "User-Agent": "capstan-callback/1"}
        if secret:
            headers["X-Capstan-Signature"] = signature(secret, body, int(time.time()))
        started = time.time()
        try:
            urlpolicy.check(url, allowlist)
        except urlpolicy.UrlRefused as exc:
            last_error = f"CallbackURL {exc}"
            record_attempt(
                {"Attempt": attempt, "Time": int(started), "Ok": False, "Error": last_error}
            )
            return Delivery(False, attempt, last_error)  # no retry changes a policy answer
        try:
            # No redirects: a 3xx could point the POST at an internal address.
            response = requests.post(
                url, data=body, headers=headers, timeout=timeout_s, allow_redirects=False
            )
            ok = 200 <= response.status_code < 300
            last_error = "" if ok else f"HTTP {response.status_code}"
        except requests.Timeout:
            ok, last_error = False, f"timeout of {timeout_s * 1000:.0f}ms exceeded"
        except requests.RequestException as exc:
            ok, last_error = False, f"{type(exc).__name__}: {exc}"
        record_attempt({"Attempt": attempt, "Time": int(started), "Ok": ok, "Error": last_error})
        if ok:
            return Delivery(True, attempt, "")
        log.info("callback attempt %d to %s failed: %s", attempt, _host(url), last_error)
        delay = None if should_stop() else retries.next_delay()
        if delay is None:
            return Delivery(False, attempt, last_error)
        retries.sleep(delay)


def failure_message(delivery: Delivery) -> str:
    """The seeds' wording for Result.ErrorMessage."""
    return f"Callback failed even all tries. last error message:{delivery.last_error}"


def _host(url: str) -> str:
    # Log the host only: query strings may carry tokens.
    from urllib.parse import urlsplit

    return urlsplit(url).netloc
