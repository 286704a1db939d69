"""Reading media facts with ffprobe (duration, streams)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from workers.common.media.ffmpeg import Ends

# ffmpeg's MPEG-TS muxer delays every timestamp by twice its default max_delay (0.7 s).
MPEGTS_DELAY_S = 1.4


@dataclass(frozen=True)
class MediaInfo:
    duration_s: float
    streams: tuple[str, ...]  # codec types, e.g. ("video", "audio")


def probe(path: Path | str, ffprobe: str, timeout_s: float = 30.0) -> MediaInfo:
    """``ffprobe``: the command (Settings.ffprobe)."""
    argv = [
        ffprobe, "-v", "error", "-print_format", "json",
        "-show_format", "-show_streams", str(path),
    ]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, timeout=timeout_s, check=True).stdout
    data = json.loads(out)
    duration = float(data.get("format", {}).get("duration") or 0.0)
    streams = tuple(s.get("codec_type", "") for s in data.get("streams", []))
    return MediaInfo(duration, streams)


def stream_ends(path: Path | str, ffprobe: str, timeout_s: float = 30.0) -> Ends:
    """Where the audio and the video of a segment end on the recording's timeline.

    MPEG-TS writes every timestamp ``MPEGTS_DELAY_S`` late; the segments' own clock is
    what the next run continues, so that is taken off.
    """
    argv = [
        ffprobe, "-v", "error", "-show_entries",
        "packet=codec_type,pts_time,duration_time", "-of", "csv=p=0", str(path),
    ]  # fmt: skip
    # A segment cut short by a crash still has packets up to its tear: read what is there.
    out = subprocess.run(argv, capture_output=True, timeout=timeout_s, check=False).stdout
    ends: dict[str, float] = {}
    for line in out.decode().split():
        kind, pts, duration = [*line.split(","), "", "", ""][:3]
        try:
            end = float(pts) + (float(duration) if duration not in ("", "N/A") else 0.0)
        except ValueError:
            continue
        ends[kind] = max(ends.get(kind, 0.0), end - MPEGTS_DELAY_S)
    return Ends(audio_s=ends.get("audio", 0.0), video_s=ends.get("video", 0.0))
