"""ffmpeg command lines as pure functions: argument lists in, argument lists out.

Running them is ManagedProcess's job; tests/unit/test_ffmpeg_builders.py checks them
against tables of cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

BASE = ("-hide_banner", "-nostats", "-loglevel", "warning", "-nostdin")


@dataclass(frozen=True)
class SegmentRun:
    """One capture run (Start, or a Resume) writing segments and a CSV list of closed ones."""

    directory: Path
    stem: str  # e.g. "e0001r0002": epoch and run, so names sort chronologically

    @property
    def pattern(self) -> Path:
        return self.directory / f"{self.stem}_%05d.ts"

    @property
    def list_path(self) -> Path:
        return self.directory / f"{self.stem}.csv"


def base(*, interactive: bool = False, loglevel: str = "warning") -> list[str]:
    """Common flags. ``interactive`` keeps stdin open so 'q' can finish the file."""
    args = ["-hide_banner", "-nostats", "-loglevel", loglevel]
    return args if interactive else [*args, "-nostdin"]


def segment_output(run: SegmentRun, seconds: int) -> list[str]:
    """MPEG-TS segments (robust to a crash: no trailer) with a list of the closed ones.

    Timestamps restart in each segment so the concat demuxer can butt runs together
    with no gap for the time spent paused.
    """
    return [
        "-f", "segment",
        "-segment_time", str(seconds),
        "-segment_format", "mpegts",
        "-reset_timestamps", "1",
        "-segment_list", str(run.list_path),
        "-segment_list_type", "csv",
        str(run.pattern),
    ]  # fmt: skip


def h264_encode(fps: int, keyframe_s: int, *, preset: str = "veryfast", crf: int = 23) -> list[str]:
    """H.264 (yuv420p, a keyframe at every segment boundary) + AAC."""
    return [
        "-c:v", "libx264",
        "-preset", preset,
        "-tune", "zerolatency",
        "-crf", str(crf),
        "-pix_fmt", "yuv420p",
        "-r", str(fps),
        "-g", str(fps * keyframe_s),
        "-force_key_frames", f"expr:gte(t,n_forced*{keyframe_s})",
        "-c:a", "aac",
        "-b:a", "128k",
        "-ar", "48000",
    ]  # fmt: skip


def concat_list(paths: Sequence[Path]) -> str:
    """The concat demuxer's list file, each path quoted for its syntax."""
    lines = []
    for path in paths:
        quoted = str(path.resolve()).replace("'", "'\\''")
        lines.append(f"file '{quoted}'")
    return "\n".join(lines) + "\n"


def concat_input(list_file: Path) -> list[str]:
    return ["-f", "concat", "-safe", "0", "-i", str(list_file)]


def mp4_output(out: Path, *, audio: bool = True, video: bool = True) -> list[str]:
    """Stream copy into MP4 with the moov atom first, so it plays while downloading."""
    picks = [] if video else ["-vn"]
    picks += [] if audio else ["-an"]
    return [*picks, "-c", "copy", "-movflags", "+faststart", "-y", str(out)]


def mp3_output(out: Path, *, bitrate: str = "128k") -> list[str]:
    return ["-vn", "-c:a", "libmp3lame", "-b:a", bitrate, "-y", str(out)]


def hls_output(playlist: Path, seconds: int, *, key_info: Path | None = None) -> list[str]:
    """VOD HLS by stream copy; AES-128 when a key info file is given."""
    segment_name = playlist.with_name(playlist.stem + "_%05d.ts")
    args = [
        "-c", "copy",
        "-f", "hls",
        "-hls_time", str(seconds),
        "-hls_playlist_type", "vod",
        "-hls_segment_filename", str(segment_name),
    ]  # fmt: skip
    if key_info is not None:
        args += ["-hls_key_info_file", str(key_info)]
    return [*args, "-y", str(playlist)]


def hls_key_info(key_uri: str, key_file: Path) -> str:
    """The -hls_key_info_file body: the URI players fetch, then the local key file."""
    return f"{key_uri}\n{key_file}\n"
