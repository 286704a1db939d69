"""Snapshots from closed segments: which times a segment holds, and the ffmpeg command
lines that take them (pure functions; ``run`` runs one).

A segment keeps the recording's timeline (ffmpeg.segment_output) shifted by MPEG-TS's
delay, so with ``-copyts`` a frame's ``t`` is its time in the recording plus
``MPEGTS_DELAY_S``. The snapshot at T seconds is the first frame at or after T: one
decode of the segment, split into one branch per time, each keeping one frame.
"""

from __future__ import annotations

import contextlib
import math
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from workers.common.media import ffmpeg
from workers.common.media.ffprobe import MPEGTS_DELAY_S

JPEG_QUALITY = 3  # ffmpeg's -q:v for MJPEG: 2 (best) .. 31; 3 is near the source
TIMEOUT_S = 120.0
NICER = 5  # below the worker (a third of its share when both want the CPU), not starved
LAST_FRAME_WINDOW_S = 0.5  # longer than a frame at any rate a source may have


class SnapshotFailed(Exception):
    """ffmpeg could not take a segment's snapshots (the recording is not affected)."""


def due(next_s: int, end_s: float, interval_s: int) -> list[int]:
    """The snapshot times (multiples of ``interval_s``) from ``next_s`` (itself one) up
    to ``end_s`` (excluded): those a segment whose video ends at ``end_s`` can give."""
    if end_s <= next_s:
        return []
    count = math.ceil((end_s - next_s) / interval_s)
    return [next_s + i * interval_s for i in range(count)]


def _input(segment: Path, ffmpeg_cmd: str) -> list[str]:
    """The segment with its own timestamps, decoded on one core (a still needs no more)."""
    return [ffmpeg_cmd, *ffmpeg.base(), "-threads", "1", "-copyts", "-i", str(segment)]


def _image(out: Path) -> list[str]:
    quality = ["-q:v", str(JPEG_QUALITY)] if out.suffix == ".jpg" else []
    return [*quality, "-update", "1", "-y", str(out)]


def at_times(
    segment: Path, times_s: Sequence[float], outputs: Sequence[Path], *, ffmpeg_cmd: str
) -> list[str]:
    """One ffmpeg reading ``segment`` once and writing, for each time, the first frame at
    or after it (recording seconds) to the output beside it. A time after the segment's
    last frame gets no file."""
    if not times_s or len(times_s) != len(outputs):
        raise ValueError("one output per snapshot time, and at least one")
    labels = [f"s{i}" for i in range(len(times_s))]
    graph = f"[0:v:0]split={len(labels)}" + "".join(f"[{x}]" for x in labels)
    for label, at in zip(labels, times_s, strict=True):
        # one frame through each branch (later ones would still be converted for nothing)
        first = f"gte(t,{at + MPEGTS_DELAY_S:.6f})*isnan(prev_selected_t)"
        graph += f";[{label}]select='{first}'[o{label}]"
    args = [*_input(segment, ffmpeg_cmd), "-filter_complex", graph]
    for label, out in zip(labels, outputs, strict=True):
        args += ["-map", f"[o{label}]", "-frames:v", "1", "-fps_mode", "passthrough", *_image(out)]
    return args


def last_frame(segment: Path, out: Path, video_end_s: float, *, ffmpeg_cmd: str) -> list[str]:
    """The segment's last frame (its video ends at ``video_end_s``, recording seconds):
    the frames of its last half second overwrite each other (-update), the file keeps
    the last. (-sseof does not seek in these MPEG-TS files: it finds no frame.)"""
    since = max(0.0, video_end_s - LAST_FRAME_WINDOW_S) + MPEGTS_DELAY_S
    return [
        *_input(segment, ffmpeg_cmd), "-map", "0:v:0", "-vf", f"select='gte(t,{since:.6f})'",
        "-fps_mode", "passthrough", *_image(out),
    ]  # fmt: skip


def run(argv: list[str], timeout_s: float = TIMEOUT_S) -> None:
    """Run a snapshot ffmpeg NICER steps below this process: the capture comes first."""
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
    except OSError as exc:
        raise SnapshotFailed(f"snapshot ffmpeg did not run: {exc}") from exc
    with contextlib.suppress(OSError):
        niceness = min(19, os.getpriority(os.PRIO_PROCESS, 0) + NICER)
        os.setpriority(os.PRIO_PROCESS, proc.pid, niceness)
    try:
        _, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise SnapshotFailed(f"snapshot ffmpeg did not end within {timeout_s:.0f}s") from None
    if proc.returncode != 0:
        tail = " | ".join(stderr.decode("utf-8", "replace").strip().splitlines()[-3:])
        raise SnapshotFailed(f"snapshot ffmpeg failed (exit {proc.returncode}): {tail}")
