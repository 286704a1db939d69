"""Snapshot command lines are pure: which times a segment holds, and the ffmpeg that takes
them (one decode per segment, one frame per time, on the recording's timeline)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.common.media import snapshot
from workers.common.media.ffprobe import MPEGTS_DELAY_S


@pytest.mark.parametrize(
    ("next_s", "end_s", "interval", "times"),
    [
        (0, 4.02, 2, [0, 2, 4]),  # a segment from the start: 0 is the first frame
        (6, 8.0, 2, [6]),  # the video ends at 8: the frame at 8 is the next segment's
        (6, 6.0, 2, []),  # ends where the next is due: nothing here
        (10, 8.0, 10, []),  # a segment shorter than the interval holds none
        (10, 14.5, 1, [10, 11, 12, 13, 14]),
        (3600, 3604.0, 3600, [3600]),
    ],
)
def test_due_times_are_the_multiples_a_segment_can_give(next_s, end_s, interval, times):
    assert snapshot.due(next_s, end_s, interval) == times


def test_one_ffmpeg_call_takes_every_time_of_a_segment_on_the_recording_timeline():
    outs = [Path("/w/t_000010.jpg"), Path("/w/t_000020.jpg")]
    argv = snapshot.at_times(Path("/s/e0001r0001_00002.ts"), [10, 20], outs, ffmpeg_cmd="ff")
    assert argv[0] == "ff"
    # the segment's own timestamps (the recording's timeline, MPEG-TS's delay added)
    assert argv.index("-copyts") < argv.index("-i")
    assert argv.count("-i") == 1 and argv[argv.index("-i") + 1] == "/s/e0001r0001_00002.ts"
    graph = argv[argv.index("-filter_complex") + 1]
    assert graph.startswith("[0:v:0]split=2[s0][s1]")
    # each branch lets one frame through: the first at or after its time
    first = "*isnan(prev_selected_t)"
    assert f"[s0]select='gte(t,{10 + MPEGTS_DELAY_S:.6f}){first}'[os0]" in graph
    assert f"[s1]select='gte(t,{20 + MPEGTS_DELAY_S:.6f}){first}'[os1]" in graph
    # one frame into each file, in the order of the times
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "-map"] == ["[os0]", "[os1]"]
    assert argv.count("-frames:v") == 2
    assert [a for a in argv if a.endswith(".jpg")] == [str(o) for o in outs]
    assert argv[argv.index("-q:v") + 1] == str(snapshot.JPEG_QUALITY)


def test_png_has_no_jpeg_quality_and_times_need_their_outputs():
    argv = snapshot.at_times(Path("/s/a.ts"), [0], [Path("/w/a.png")], ffmpeg_cmd="ff")
    assert "-q:v" not in argv and argv[-1] == "/w/a.png"
    with pytest.raises(ValueError):
        snapshot.at_times(Path("/s/a.ts"), [0, 5], [Path("/w/a.png")], ffmpeg_cmd="ff")
    with pytest.raises(ValueError):
        snapshot.at_times(Path("/s/a.ts"), [], [], ffmpeg_cmd="ff")


def test_the_last_frame_is_what_is_left_of_the_last_half_second():
    argv = snapshot.last_frame(Path("/s/a.ts"), Path("/w/end.jpg"), 12.0, ffmpeg_cmd="ff")
    assert argv.index("-copyts") < argv.index("-i")
    since = 12.0 - snapshot.LAST_FRAME_WINDOW_S + MPEGTS_DELAY_S
    assert argv[argv.index("-vf") + 1] == f"select='gte(t,{since:.6f})'"
    assert "-frames:v" not in argv  # every frame overwrites the one before
    assert argv[argv.index("-update") + 1] == "1" and argv[-1] == "/w/end.jpg"


def test_a_failing_ffmpeg_is_a_snapshot_failure_with_its_words():
    with pytest.raises(snapshot.SnapshotFailed, match="exit 1"):
        snapshot.run(["ffmpeg", "-v", "error", "-i", "/nonexistent.ts", "/tmp/x.jpg"])
    with pytest.raises(snapshot.SnapshotFailed, match="did not run"):
        snapshot.run(["/no/such/ffmpeg"])
