"""The recorder's ffmpeg command line: pull one user's stream into MPEG-TS segments.

Pure functions (tests/unit/test_recorder_builders.py checks them against a table).
Streams are copied, never re-encoded, while recording: Mode 00 keeps the audio as it came
(AAC) and the MP3 encode happens once, in transcode.
"""

from __future__ import annotations

from workers.common.media import ffmpeg
from workers.common.media.ffmpeg import Ends, SegmentRun

# Mode -> which tracks of the user's stream go into the segments.
# 00: audio only; 01: video only; 02: both (either may be missing: a camera-only user).
TRACKS: dict[str, list[str]] = {
    "00": ["-map", "0:a:0", "-vn"],
    "01": ["-map", "0:v:0", "-an"],
    "02": ["-map", "0:v:0?", "-map", "0:a:0?"],
}
# Mode -> (extension, audio, video) of the final file.
OUTPUTS: dict[str, tuple[str, bool, bool]] = {
    "00": ("mp3", True, False),
    "01": ("mp4", False, True),
    "02": ("mp4", True, True),
}


def pull_argv(
    binary: str, url: str, mode: str, run: SegmentRun, *, segment_s: int, rw_timeout_s: float
) -> list[str]:
    """ffmpeg reading ``url`` until the stream ends or stalls for ``rw_timeout_s``.

    stdin stays open so that Stop's 'q' lets the segment muxer close its last segment.
    """
    return [
        binary,
        *ffmpeg.base(interactive=True),
        # A read that blocks this long fails: a user gone without a goodbye is noticed.
        "-rw_timeout", str(int(rw_timeout_s * 1_000_000)),
        "-i", url,
        *TRACKS[mode],
        "-c", "copy",
        *ffmpeg.segment_output(run, segment_s, timeline_offset_s=run_offset_s(mode, run.start)),
    ]  # fmt: skip


def run_offset_s(mode: str, start: Ends) -> float:
    """Where a run's zero goes on the recording's timeline (one offset: copied streams
    keep the sender's clock).

    The sound goes on exactly where it ended: a player plays samples back to back, so a
    hole there would move all later sound earlier (18.8 ms per return, measured). The
    video before may have ended up to a frame later than the sound; the run's first
    frame then only shortens the last one shown before it (its timestamps still rise).
    """
    if OUTPUTS[mode][1] and start.audio_s > 0:
        return start.audio_s
    return start.base_s


def output_name(user_id: str, stop_time: int | str, mode: str) -> str:
    """``<UserId>_<stop time>.mp3`` or ``.mp4``."""
    return f"{user_id}_{stop_time}.{OUTPUTS[mode][0]}"
