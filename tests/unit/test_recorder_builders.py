"""The recorder's ffmpeg command line and file names, against a table of cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.common.media.ffmpeg import Ends, SegmentRun
from workers.recorder import builders

RUN = SegmentRun(Path("/w/segments"), "e0001r0002")
URL = "rtmp://127.0.0.1:1935/live/1400000000_43474_user_1"
SEGMENTS = [
    "-f", "segment", "-segment_time", "4", "-segment_format", "mpegts",
    "-initial_offset", "0.000000", "-segment_list", "/w/segments/e0001r0002.csv",
    "-segment_list_type", "csv", "/w/segments/e0001r0002_%05d.ts",
]  # fmt: skip


@pytest.mark.parametrize(
    ("mode", "tracks"),
    [
        ("00", ["-map", "0:a:0", "-vn"]),
        ("01", ["-map", "0:v:0", "-an"]),
        ("02", ["-map", "0:v:0?", "-map", "0:a:0?"]),
    ],
)
def test_pull_copies_the_mode_tracks_into_segments(mode, tracks):
    argv = builders.pull_argv("ffmpeg", URL, mode, RUN, segment_s=4, rw_timeout_s=2.5)
    assert argv == [
        "ffmpeg", "-hide_banner", "-nostats", "-loglevel", "warning",  # stdin open: 'q'
        "-rw_timeout", "2500000", "-i", URL,
        *tracks, "-c", "copy", *SEGMENTS,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("mode", "ends", "offset"),
    [
        ("02", Ends(audio_s=10.0, video_s=10.02), 10.0),  # the sound goes on without a hole
        ("02", Ends(audio_s=10.02, video_s=10.0), 10.02),
        ("02", Ends(audio_s=0.0, video_s=10.0), 10.0),  # no sound yet: after the video
        ("01", Ends(audio_s=0.0, video_s=10.0), 10.0),
        ("00", Ends(audio_s=10.0, video_s=0.0), 10.0),
    ],
)
def test_a_run_continues_where_the_sound_ended(mode, ends, offset):
    assert builders.run_offset_s(mode, ends) == offset


def test_no_encoder_while_recording():
    for mode in builders.TRACKS:
        argv = builders.pull_argv("ffmpeg", URL, mode, RUN, segment_s=4, rw_timeout_s=3)
        assert argv[argv.index("-c") + 1] == "copy"
        assert "libmp3lame" not in argv and "libx264" not in argv


@pytest.mark.parametrize(
    ("mode", "name"),
    [
        ("00", "user_1_1700000000.mp3"),
        ("01", "user_1_1700000000.mp4"),
        ("02", "user_1_1700000000.mp4"),
    ],
)
def test_output_name(mode, name):
    assert builders.output_name("user_1", 1700000000, mode) == name
