"""How far the page's picture moved from one file frame to the next (issue 17, density).

The bench page with ``steps=1`` (tests/pages/colour.html) draws a grey square one step
(16 levels, modulo 256) lighter every animation frame. Read back from a recording, each
file frame's step says how many of the page's frames passed since the file frame before:
a viewer sees motion as smooth when every step is the same, and a stutter where one is
not (a picture shown twice, then one skipped; or two renderer frames, then one).
"""

from __future__ import annotations

import collections
import itertools
import subprocess
from pathlib import Path

from workers.panorama.builders import Frame

PAGE_QUERY = "steps=1"
SQUARE = 64  # px, the page's square at the bottom right corner
LEVELS_PER_STEP = 16


def steps(video: Path, frame: Frame, skip_s: float = 3.0) -> collections.Counter[int]:
    """How many of the page's frames each file frame moved on, after ``skip_s`` (the
    page's load): {steps: count}."""
    side = SQUARE // 4  # the square's centre, clear of the encoder's edges
    x, y = frame.width - SQUARE // 2 - side // 2, frame.height - SQUARE // 2 - side // 2
    argv = ["ffmpeg", "-v", "error", "-ss", str(skip_s), "-i", str(video), "-an",
            "-vf", f"crop={side}:{side}:{x}:{y}", "-f", "rawvideo", "-pix_fmt", "rgb24",
            "-"]  # fmt: skip
    raw = subprocess.run(argv, capture_output=True, check=True, timeout=120).stdout
    size = side * side * 3  # a frame's square, RGB: its red is its grey
    greys = [sum(raw[i : i + size : 3]) / size * 3 for i in range(0, len(raw) - size + 1, size)]
    return collections.Counter(
        round((b - a) / LEVELS_PER_STEP) % (256 // LEVELS_PER_STEP)
        for a, b in itertools.pairwise(greys)
    )


def pacing(counts: collections.Counter[int]) -> dict[str, float | int | dict[int, int]]:
    """The page's frames per file frame (the usual step) and the share of file frames
    that moved by another number: 0 for motion as smooth as the page drew it."""
    total = sum(counts.values())
    usual = counts.most_common(1)[0][0] if counts else 0
    return {
        "page_frames_per_file_frame": usual,
        "uneven_steps_pct": round(100 * (total - counts[usual]) / max(total, 1), 2),
        "steps": dict(sorted(counts.items())),
        "file_frames": total,
    }
