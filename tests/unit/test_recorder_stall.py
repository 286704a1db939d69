"""The recorder's stall watch: a pull whose segment bytes stop growing has hung."""

from __future__ import annotations

from workers.common.media.ffmpeg import SegmentRun
from workers.common.media.process import ManagedProcess
from workers.common.media.stall import StallWatch
from workers.recorder.puller import PullRun


def test_the_watch_counts_from_the_last_growth():
    watch = StallWatch(now=100)
    assert watch.still_for_s(now=103) == 3
    assert watch.advance(10, now=104)
    assert not watch.advance(10, now=106)  # the same figure is no progress
    assert not watch.advance(5, now=107)  # nor a smaller one
    assert watch.still_for_s(now=110) == 6


def test_zero_is_no_progress_and_a_restart_starts_over():
    watch = StallWatch(now=0)
    assert not watch.advance(0, now=5)
    assert watch.still_for_s(now=5) == 5
    watch.advance(50, now=6)
    watch.restart(now=20)
    assert watch.advance(1, now=21)  # a new run's figure starts from nothing


def test_a_pull_is_still_while_its_segments_do_not_grow(tmp_path):
    run = SegmentRun(tmp_path, "e0001r0001")
    pull = PullRun(run, ManagedProcess("unused", ["true"]), StallWatch(now=0))
    assert pull.stalled_for_s(now=2) == 2  # nothing written yet
    first = tmp_path / "e0001r0001_00000.ts"
    first.write_bytes(b"x" * 188)
    assert pull.stalled_for_s(now=3) == 0 and pull.has_media()
    assert pull.stalled_for_s(now=7) == 4  # hung: no byte since
    (tmp_path / "e0001r0001_00001.ts").write_bytes(b"x")  # a new segment is progress
    assert pull.stalled_for_s(now=8) == 0


def test_another_runs_segments_are_not_this_pulls_progress(tmp_path):
    pull = PullRun(SegmentRun(tmp_path, "e0001r0002"), ManagedProcess("unused", ["true"]))
    (tmp_path / "e0001r0001_00000.ts").write_bytes(b"x" * 188)
    assert pull.written() == 0 and not pull.has_media()
