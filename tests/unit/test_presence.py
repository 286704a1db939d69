"""The farm's presence bookkeeping as the pusher uses it: a source lost is looked for
after the current delay, then each look schedules the next after a longer one; a pause
forgets the absence. (The recorder's rules: test_recorder_presence.py.)"""

from __future__ import annotations

from tests.support.clock import FakeClock
from workers.common.pacing.backoff import Backoff
from workers.common.pacing.presence import Presence


def presence(clock: FakeClock, max_idle_s: float = 30) -> Presence:
    return Presence(max_idle_s, Backoff(first_s=1, max_s=5), clock)


def test_a_lost_source_is_looked_for_after_1_1_2_4_5_seconds():
    clock = FakeClock(now=0)
    source = presence(clock)
    source.seen()
    source.left()
    looks = []
    while clock.now < 20:
        if source.due():
            looks.append(clock.now)
            source.tried()
            source.left()  # the look failed: still away since 0
        clock.advance(0.25)
    assert looks == [1, 2, 4, 8, 13, 18]
    assert source.absent_for() == 20


def test_away_for_max_idle_time_it_is_idle_and_seen_again_it_is_not():
    clock = FakeClock(now=0)
    source = presence(clock, max_idle_s=10)
    source.left()
    clock.advance(9.75)
    assert not source.idle()
    clock.advance(0.25)
    assert source.idle()
    source.seen()
    assert not source.idle() and source.present and source.ever_seen


def test_seen_again_the_looks_start_over_from_the_first_delay():
    clock = FakeClock(now=0)
    source = presence(clock)
    source.left()
    for _ in range(4):
        source.tried()
    source.seen()
    clock.advance(100)
    source.left()
    assert source.next_try == clock.now + 1


def test_a_pause_forgets_the_absence_before_it():
    clock = FakeClock(now=0)
    source = presence(clock, max_idle_s=10)
    source.left()
    clock.advance(8)
    source.forget_absence()  # resumed after a pause
    clock.advance(500)
    assert not source.idle()
    source.left()  # the source is not back
    clock.advance(9)
    assert source.absent_for() == 9 and not source.idle()


def test_a_caller_may_ask_at_its_own_instant():
    clock = FakeClock(now=0)
    source = presence(clock, max_idle_s=10)
    source.left(now=5)
    assert source.absent_for(now=15) == 10 and source.idle(now=15)
    assert source.due(now=6) and not source.due(now=5.5)
