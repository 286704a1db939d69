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
class Ends:
    """Where each stream of what was recorded so far ends on the recording's timeline (s).

    A new run continues the timeline from here: its audio from ``audio_s``, its video
    from ``video_s``, and its clock from ``base_s``, so neither stream overlaps what came
    before and the time spent paused (or lost in a takeover) does not appear.
    """

    audio_s: float = 0.0
    video_s: float = 0.0

    @property
    def base_s(self) -> float:
        return max(self.audio_s, self.video_s)


@dataclass(frozen=True)
class SegmentRun:
    """One capture run (Start, or a Resume) writing segments and a CSV list of closed ones."""

    directory: Path
    stem: str  # e.g. "e0001r0002": epoch and run, so names sort chronologically
    start: Ends = Ends()  # where this run's timeline begins

    @property
    def pattern(self) -> Path:
        return self.directory / f"{self.stem}_%05d.ts"

    @property
    def list_path(self) -> Path:
        return self.directory / f"{self.stem}.csv"

    def last_closed(self) -> Path | None:
        """The run's last segment that ffmpeg closed and listed (and that holds media)."""
        try:
            lines = self.list_path.read_text().split("\n")[:-1]  # whole lines only
        except OSError:
            return None
        for line in reversed(lines):
            path = self.directory / line.rsplit(",", 2)[0]
            if path.exists() and path.stat().st_size > 0:
                return path
        return None


def base(*, interactive: bool = False, loglevel: str = "warning") -> list[str]:
    """Common flags. ``interactive`` keeps stdin open so 'q' can finish the file."""
    args = ["-hide_banner", "-nostats", "-loglevel", loglevel]
    return args if interactive else [*args, "-nostdin"]


def segment_output(
    run: SegmentRun, seconds: int, *, timeline_offset_s: float | None = None
) -> list[str]:
    """MPEG-TS segments (robust to a crash: no trailer) with a list of the closed ones.

    With ``timeline_offset_s`` (where the run's zero lands), segments keep the
    recording's timeline (the run's builder maps its clock onto it) and the final file
    is their byte concatenation (``concat_input(timeline=True)``), each packet at the
    time it was captured. Without it, timestamps restart in each segment and the concat
    demuxer butts them together: simple, but the audio comes out a fraction of a frame
    short or long at every cut, which a player hears as drift (25 ms a minute, as
    panorama had). Both pools record timeline segments; the reset mode is kept as the
    baseline the builder tests compare against.
    """
    if timeline_offset_s is None:
        timing = ["-reset_timestamps", "1"]
    else:
        timing = ["-initial_offset", f"{timeline_offset_s:.6f}"]
    return [
        "-f", "segment",
        "-segment_time", str(seconds),
        "-segment_format", "mpegts",
        *timing,
        "-segment_list", str(run.list_path),
        "-segment_list_type", "csv",
        str(run.pattern),
    ]  # fmt: skip


def h264_encode(
    fps: int, keyframe_s: int, *, rate: str = "", preset: str = "veryfast", crf: int = 23
) -> list[str]:
    """H.264 (yuv420p, a keyframe at every segment boundary) + AAC. ``rate`` (a rational,
    e.g. ``1000000/33332``) is the exact frame clock when it is not ``fps`` itself."""
    return [
        "-c:v", "libx264",
        "-preset", preset,
        "-tune", "zerolatency",
        "-crf", str(crf),
        "-pix_fmt", "yuv420p",
        "-r", rate or str(fps),
        "-g", str(fps * keyframe_s),
        "-force_key_frames", f"expr:gte(t,n_forced*{keyframe_s})",
        "-c:a", "aac",
        "-b:a", "128k",
        "-ar", "48000",
    ]  # fmt: skip


def concat_list(paths: Sequence[Path], *, timeline: bool) -> str:
    """The list of segments: for the concatf protocol (timeline segments) one absolute
    path a line; for the concat demuxer ``file '...'`` lines quoted for its syntax."""
    if timeline:
        for path in paths:
            if "\n" in str(path):
                raise ValueError(f"a segment path with a line break: {path!r}")
        return "".join(f"{path.resolve()}\n" for path in paths)
    lines = []
    for path in paths:
        quoted = str(path.resolve()).replace("'", "'\\''")
        lines.append(f"file '{quoted}'")
    return "\n".join(lines) + "\n"


def concat_input(list_file: Path, *, timeline: bool) -> list[str]:
    """Timeline segments as one MPEG-TS byte stream, timestamps as they were captured;
    reset segments through the concat demuxer, each re-timed after the one before."""
    if timeline:
        return ["-f", "mpegts", "-i", f"concatf:{list_file.resolve()}"]
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
