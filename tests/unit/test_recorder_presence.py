"""Absence bookkeeping: when the user counts as away, and when the pull is tried again."""

from __future__ import annotations

from workers.recorder.presence import FIRST_RETRY_S, user_presence


def test_a_user_who_never_comes_is_idle_after_max_idle_time():
    presence = user_presence(max_idle_s=10, retry_max_s=1)
    presence.begin(now=100)
    presence.run_ended(now=100.1)  # "No such stream"
    assert not presence.idle(109.9)
    assert presence.idle(110)
    assert not presence.ever_seen


def test_absence_counts_from_when_the_user_left_not_from_the_start():
    presence = user_presence(max_idle_s=10, retry_max_s=1)
    presence.begin(now=0)
    presence.seen()
    presence.run_ended(now=50)
    assert presence.absent_for(55) == 5
    assert not presence.idle(59) and presence.idle(60)


def test_a_return_clears_the_absence():
    presence = user_presence(max_idle_s=10, retry_max_s=1)
    presence.begin(now=0)
    presence.seen()
    presence.run_ended(now=5)
    presence.seen()
    assert presence.absent_for(100) == 0 and not presence.idle(100)


def test_failed_attempts_keep_the_first_absence_time():
    presence = user_presence(max_idle_s=10, retry_max_s=1)
    presence.begin(now=0)
    for t in (1, 2, 3):
        presence.run_ended(now=t)
    assert presence.absent_for(8) == 8


def test_retries_back_off_to_the_cap_and_reset_on_a_return():
    presence = user_presence(max_idle_s=300, retry_max_s=1)
    presence.begin(now=0)
    assert presence.due(0)
    gaps = []
    now = 0.0
    for _ in range(5):
        presence.run_ended(now)
        gaps.append(presence.next_try - now)
        now = presence.next_try
    assert gaps == [FIRST_RETRY_S, 0.5, 1, 1, 1]
    presence.seen()
    presence.run_ended(now)
    assert presence.next_try - now == FIRST_RETRY_S


def test_resume_starts_a_fresh_absence_so_paused_time_never_counts():
    presence = user_presence(max_idle_s=10, retry_max_s=1)
    presence.begin(now=0)
    presence.run_ended(now=1)  # away since 0; then paused for a long time
    presence.begin(now=1000)  # resume
    assert presence.absent_for(1005) == 5 and presence.due(1000)
