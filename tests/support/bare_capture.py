"""The yardstick for panorama's sound against its picture on this machine.

The flash-and-beep page (tests/pages/flashbeep.html) turns white and starts a 1 kHz
beep in the same animation frame every 2 s. A bare capture (ffmpeg alone: the farm's
display, sink, browser, inputs and encoder, straight into one MP4, no segments, runs
or farm) gives the machine's own beep-minus-flash offset; every panorama output must
stay within EARLY_MS early and LATE_MS late of it (issue 11's bounds).
"""

from __future__ import annotations

import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from config.settings import get_settings
from tests.support import avsync
from tests.support.http import StaticServer
from tests.support.panorama_helpers import PAGES
from tests.support.tools import require_browser_stack
from workers.common.media.ffmpeg import SegmentRun
from workers.panorama import builders
from workers.panorama.builders import Frame
from workers.panorama.stack import BrowserStack

EARLY_MS, LATE_MS = 45.0, 100.0
SIZE = Frame(640, 360)
# The sound's clock settles in its first seconds (aresample pulls it onto its arrival
# stamps at up to 2 %): on a loaded machine the first event can be ~100 ms early.
SETTLED_S = 3.0


def flash_url(pages_url: str) -> str:
    return f"{pages_url.rstrip('/')}/flashbeep.html"


def flash_pages() -> StaticServer:
    return StaticServer(PAGES)


@dataclass(frozen=True)
class Yardstick:
    """What bare captures give on this machine: the median offset of all their events, and
    the lowest and highest of the captures' own medians.

    Each ffmpeg process has its own offset, steady within the process but up to a frame
    (33 ms at 30 fps) or more apart between processes: x11grab's ticks fall at a different
    phase of Chromium's frames in each, and an event's picture is caught by one tick or the
    next. A farm capture run (a Start, each Resume, a takeover) is such a process too, so
    its bounds are set around that range, not around one process's value."""

    median_ms: float
    low_ms: float
    high_ms: float


def bare_offset_ms(
    pages_url: str, home: Path, runs: int = 3, seconds: float = 8.0, size: Frame = SIZE
) -> Yardstick:
    """The offsets of ``runs`` bare captures of the page (see Yardstick)."""
    require_browser_stack()
    stack = BrowserStack(size, "/usr/bin/chromium", home / "browser", ["127.0.0.0/8"]).start()
    offsets: list[float] = []
    per_run: list[float] = []
    try:
        assert stack.browser is not None and stack.display and stack.audio
        stack.browser.open(flash_url(pages_url), 20)
        for run in range(runs):
            out = home / f"bare-{run}.mp4"
            argv = _bare_capture(size, stack.display.name, stack.audio.server, out)
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
            until = time.monotonic() + seconds
            while time.monotonic() < until:
                stack.browser.pump(100)
            proc.communicate(b"q", timeout=30)
            run_offsets = [pair.offset_ms for pair in avsync.measure(out).pairs]
            offsets += run_offsets
            per_run.append(statistics.median(run_offsets))
    finally:
        stack.close()
    assert len(offsets) >= 2 * runs, offsets
    print(f"bare capture offsets (ms): {[round(o) for o in offsets]}")
    return Yardstick(float(statistics.median(offsets)), min(per_run), max(per_run))


def _bare_capture(size: Frame, display: str, pulse_server: str, out: Path) -> list[str]:
    argv = builders.capture(
        size,
        display,
        pulse_server,
        run=SegmentRun(out.parent, "bare"),  # its segment muxer is dropped below
        segment_seconds=4,
        progress=out.with_suffix(".progress"),
        wallclock_s=time.time(),
        encoder=builders.Encoder.of(get_settings()),
    )
    cut = argv.index("-f", argv.index("-c:a"))  # drop the segment muxer
    return ["ffmpeg", *argv[:cut], "-y", str(out)]


def assert_in_sync(sync: avsync.Sync, bare: Yardstick, *, at_least: int) -> None:
    """Every event after SETTLED_S within the bounds around the bare capture's offset,
    and no hole in the sound (a player plays samples back to back)."""
    assert len(sync.pairs) >= at_least, sync.summary()
    low, high = bare.low_ms - EARLY_MS, bare.high_ms + LATE_MS
    late_or_early = [
        (round(p.flash_s, 2), round(p.offset_ms)) for p in sync.pairs
        if p.flash_s >= SETTLED_S and not low <= p.offset_ms <= high
    ]  # fmt: skip
    assert not late_or_early, f"out of [{low:.0f}, {high:.0f}] ms: {late_or_early}"
    assert not [h for h in sync.audio_holes_ms if abs(h) > 5], sync.audio_holes_ms
