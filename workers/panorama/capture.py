"""One capture run: ffmpeg grabbing the display and the sink into segments.

A run lasts from Start (or Resume) to Pause (or Stop); ``stop()`` sends 'q' so that
ffmpeg closes its last segment and lists it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from workers.common.domain.errors import Code, FarmFault
from workers.common.media.ffmpeg import SegmentRun
from workers.common.media.process import ManagedProcess

_TAIL_BYTES = 2048  # two progress blocks: the file grows all recording long, read its end


@dataclass(frozen=True)
class Figures:
    """ffmpeg's latest progress block: frames written, duplicated and dropped."""

    frames: int = 0
    dup: int = 0
    drop: int = 0
    out_time_s: float = 0.0


def read_progress(path: Path) -> Figures:
    """The last complete block of an ffmpeg -progress file (blocks end with progress=...)."""
    try:
        with path.open("rb") as file:
            file.seek(max(0, path.stat().st_size - _TAIL_BYTES))
            text = file.read().decode("utf-8", "replace")
    except OSError:
        return Figures()
    end = text.rfind("progress=")
    if end < 0:
        return Figures()
    previous = text.rfind("progress=", 0, end)
    start = text.find("\n", previous) + 1 if previous >= 0 else 0
    values: dict[str, str] = {}
    for line in text[start:end].splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return Figures(
        frames=_int(values.get("frame")),
        dup=_int(values.get("dup_frames")),
        drop=_int(values.get("drop_frames")),
        out_time_s=_int(values.get("out_time_us")) / 1e6,
    )


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


class CaptureRun:
    def __init__(self, argv: list[str], run: SegmentRun, progress: Path) -> None:
        self.run = run
        self.progress = progress
        self.proc = ManagedProcess(f"ffmpeg-{run.stem}", argv)
        self._last_growth = time.monotonic()
        self._last_out_time = -1.0

    def start(self, timeout_s: float) -> CaptureRun:
        """Start ffmpeg and return once it has encoded its first frames."""
        self.proc.start()
        try:
            self.proc.wait_ready(self._writing, timeout_s=timeout_s)
        except Exception as exc:
            self.close()
            raise FarmFault(f"screen capture did not start: {exc}", Code.RECORD_FAILED) from exc
        self._last_growth = time.monotonic()
        return self

    def _writing(self) -> bool:
        # The first progress block with a frame: segments themselves are written in
        # buffered chunks, seconds after the first frame at a low bitrate.
        return self.figures().frames > 0

    def figures(self) -> Figures:
        return read_progress(self.progress)

    def check(self, stall_s: float) -> Figures:
        """Raise RecordFailed when ffmpeg died or its output stopped advancing."""
        if not self.proc.alive:
            died = self.proc.failure("screen capture (ffmpeg) stopped")
            raise FarmFault(str(died), Code.RECORD_FAILED)
        figures = self.figures()
        now = time.monotonic()
        if figures.out_time_s > self._last_out_time:
            self._last_out_time, self._last_growth = figures.out_time_s, now
        elif now - self._last_growth > stall_s:
            raise FarmFault(
                f"screen capture stalled: no media for {stall_s:.0f}s", Code.RECORD_FAILED
            )
        return figures

    def stop(self) -> None:
        """'q': ffmpeg finishes and lists its last segment."""
        self.proc.stop(quit_key=True, grace_s=5.0)
        self.proc.close()

    def close(self) -> None:
        self.proc.close()
