"""Video files a page plays, made with ffmpeg's synthetic sources: a moving test picture
(testsrc2: colour bars, a sweeping band, a running clock) and a sine tone at a known pitch.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

SECONDS = 10  # pages loop them


def _sources(size: str, tone_hz: int) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25",
            "-f", "lavfi", "-i", f"sine=frequency={tone_hz}:sample_rate=48000",
            "-t", str(SECONDS)]  # fmt: skip


H264_AAC = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "50",
            "-c:a", "aac"]  # fmt: skip
VP9_OPUS = ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "400k",
            "-pix_fmt", "yuv420p", "-c:a", "libopus"]  # fmt: skip


def _ffmpeg(args: list[str]) -> None:
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)


def mp4(path: Path, tone_hz: int, size: str = "320x180") -> Path:
    """H.264/AAC in MP4, index first (as a web server would offer it)."""
    _ffmpeg([*_sources(size, tone_hz), *H264_AAC, "-movflags", "+faststart", str(path)])
    return path


def webm(path: Path, tone_hz: int, size: str = "320x180") -> Path:
    """VP9/Opus in WebM."""
    _ffmpeg([*_sources(size, tone_hz), *VP9_OPUS, str(path)])
    return path


def hls(playlist: Path, tone_hz: int, size: str = "320x180") -> Path:
    """H.264/AAC in MPEG-TS segments of 2 s, a VOD playlist next to them."""
    segments = str(playlist.with_name(f"{playlist.stem}%d.ts"))
    hls_out = ["-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod",
               "-hls_segment_filename", segments, str(playlist)]  # fmt: skip
    _ffmpeg([*_sources(size, tone_hz), *H264_AAC, *hls_out])
    return playlist
