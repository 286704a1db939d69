"""The bench's split of the offset's drift into the sound's and the picture's, on events
whose times are known."""

from __future__ import annotations

import pytest

from tests.support.avsync import Pair, Sync


def events(every_s: float, count: int, skip: frozenset[int] = frozenset()) -> list[float]:
    return [5.0 + k * every_s for k in range(count) if k not in skip]


def test_a_sound_clock_fast_by_10_ppm_gains_36_ms_an_hour_and_the_picture_none():
    picture = events(2.0, 1800)
    sound = events(2.0 * (1 + 10e-6), 1800, skip={7, 900})  # two beeps missing: still counted
    sync = Sync([Pair(f, f) for f in picture], picture, sound)
    drift = sync.stream_drift_ms_per_hour()
    assert drift["sound"] == pytest.approx(36.0, abs=0.01)
    assert drift["picture"] == pytest.approx(0.0, abs=0.01)


def test_a_picture_one_frame_later_from_mid_hour_shows_as_the_pictures_drift():
    picture = [t + (1 / 30 if k >= 900 else 0.0) for k, t in enumerate(events(2.0, 1800))]
    sound = events(2.0, 1800)
    sync = Sync([Pair(f, b) for f, b in zip(picture, sound)], picture, sound)
    drift = sync.stream_drift_ms_per_hour()
    assert drift["sound"] == pytest.approx(0.0, abs=0.01)
    assert 40.0 < drift["picture"] < 60.0  # a 33 ms step half way: ~50 ms/h by least squares
    assert sync.drift_ms_per_min() * 60 == pytest.approx(-drift["picture"], abs=0.5)
