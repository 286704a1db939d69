"""The farm's one retry rule: delays double from the first to the cap, at most the window
long or the attempt limit many, shortened at random when asked. A fake clock: no waiting."""

from __future__ import annotations

import pytest

from tests.support.clock import FakeClock
from workers.common.pacing.backoff import Backoff, Retries, RetryPolicy


def waits(retries: Retries) -> list[float]:
    """Every wait the run allows, as a loop that always fails would sleep them."""
    slept = []
    while (delay := retries.next_delay()) is not None:
        retries.sleep(delay)
        slept.append(delay)
    return slept


def test_delays_double_up_to_the_cap_and_start_over_on_reset():
    backoff = Backoff(first_s=0.25, max_s=1.0)
    assert [backoff.next() for _ in range(5)] == [0.25, 0.5, 1.0, 1.0, 1.0]
    backoff.reset()
    assert backoff.next() == 0.25


def test_reading_the_next_delay_does_not_grow_it():
    backoff = Backoff(first_s=1.0, max_s=5.0)
    assert backoff.delay == backoff.delay == 1.0
    assert backoff.next() == 1.0 and backoff.delay == 2.0


def test_no_wait_would_end_past_the_window():
    clock = FakeClock()
    policy = RetryPolicy(window_s=30, first_backoff_s=1, max_backoff_s=8)
    retries = Retries(policy, clock=clock, sleep=clock.sleep)
    assert waits(retries) == [1, 2, 4, 8, 8]  # 23 s; one more 8 s would pass the 30 s window
    assert retries.tries == 6


def test_the_window_counts_the_tries_time_too():
    clock = FakeClock()
    retries = Retries(RetryPolicy(window_s=10, first_backoff_s=1), clock=clock, sleep=clock.sleep)
    clock.advance(8.5)  # the first try took 8.5 s
    assert retries.next_delay() == 1
    clock.advance(1 + 0.5)
    assert retries.next_delay() is None  # 10 s + a 2 s wait: past the window


def test_an_attempt_limit_counts_the_first_try():
    clock = FakeClock()
    policy = RetryPolicy(window_s=None, max_attempts=3, first_backoff_s=1)
    retries = Retries(policy, clock=clock, sleep=clock.sleep)
    assert waits(retries) == [1, 2] and retries.tries == 3


def test_without_a_window_or_a_limit_the_waits_go_on_at_the_cap():
    clock = FakeClock()
    policy = RetryPolicy(window_s=None, first_backoff_s=1, max_backoff_s=5)
    retries = Retries(policy, clock=clock, sleep=clock.sleep)
    assert [retries.next_delay() for _ in range(6)] == [1, 2, 4, 5, 5, 5]


def test_jitter_takes_up_to_its_fraction_off_each_delay():
    draws = iter([0.0, 0.5, 1.0])
    backoff = Backoff(first_s=4, max_s=4, jitter=0.5, rand=lambda: next(draws))
    assert [backoff.next() for _ in range(3)] == [4.0, 3.0, 2.0]


@pytest.mark.parametrize("jitter", [0.0, 0.3])
def test_jitter_never_lengthens_a_delay_nor_changes_the_schedule(jitter):
    backoff = Backoff(first_s=1, max_s=8, jitter=jitter)
    for expected in (1, 2, 4, 8, 8):
        delay = backoff.next()
        assert expected * (1 - jitter) <= delay <= expected
