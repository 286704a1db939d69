"""Callback signatures and the retry schedule (the HTTP side is in the integration tests)."""

import hashlib
import hmac

from tests.support.clock import FakeClock
from workers.common.delivery.callback import Delivery, deliver, failure_message, signature
from workers.common.pacing.backoff import RetryPolicy


def test_signature_is_hmac_sha256_over_timestamp_and_body():
    body = b'{"TaskID":"x"}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("s3cret", body, 1700000000) == f"t=1700000000,v1={expected}"


def test_failure_message_has_the_seeds_wording():
    message = failure_message(Delivery(False, 5, "timeout of 2000ms exceeded"))
    assert (
        message == "Callback failed even all tries. last error message:timeout of 2000ms exceeded"
    )


def test_backoff_doubles_and_stops_at_the_window():
    # A closed port refuses at once: only the schedule is exercised.
    attempts: list[dict] = []
    clock = FakeClock()  # time passes only by the backoff
    delivery = deliver(
        "http://127.0.0.1:9/hook",
        {"a": 1},
        secret="",
        allowlist=["127.0.0.0/8"],
        policy=RetryPolicy(window_s=30, first_backoff_s=1, max_backoff_s=8),
        timeout_s=1,
        record_attempt=attempts.append,
        sleep=clock.sleep,
        clock=clock,
    )
    sleeps = clock.slept
    assert not delivery.ok
    assert sleeps == [1, 2, 4, 8, 8]  # 23 s; one more 8 s wait would pass the 30 s window
    assert delivery.attempts == len(attempts) == len(sleeps) + 1
    assert all(not a["Ok"] and a["Error"] for a in attempts)


def test_a_callback_to_an_internal_address_is_refused_without_retrying():
    attempts: list[dict] = []
    delivery = deliver(
        "http://169.254.169.254/hook",
        {"a": 1},
        secret="",
        policy=RetryPolicy(window_s=30),
        timeout_s=5,
        record_attempt=attempts.append,
        sleep=lambda s: None,
    )
    assert not delivery.ok and delivery.attempts == 1
    assert "cloud metadata" in delivery.last_error
