"""bench/pacing.py reads how far the page's picture moved from one file frame to the next:
checked on files made here, whose steps are known, through the farm's own encoder."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bench import pacing
from tests.support.tools import require
from workers.panorama.builders import Frame

pytestmark = pytest.mark.integration

FRAME = Frame(320, 240)


def video_of_steps(path: Path, steps: list[int]) -> Path:
    """H.264 (x264 ultrafast, yuv420p, as the farm encodes) of the bench page's square,
    moved on by ``steps[i]`` page frames at file frame i + 1, on the page's blue."""
    ffmpeg = require("ffmpeg")
    page_frame, frames = 0, []
    for step in [0, *steps]:
        page_frame += step
        grey = (page_frame * pacing.LEVELS_PER_STEP) % 256
        image = bytearray(bytes((0x33, 0x66, 0xCC)) * FRAME.width * FRAME.height)
        for y in range(FRAME.height - pacing.SQUARE, FRAME.height):
            row = (y * FRAME.width + FRAME.width - pacing.SQUARE) * 3
            image[row : row + pacing.SQUARE * 3] = bytes((grey,)) * pacing.SQUARE * 3
        frames.append(bytes(image))
    argv = [ffmpeg, "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
            "-video_size", f"{FRAME.width}x{FRAME.height}", "-framerate", "30", "-i", "-",
            "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-pix_fmt", "yuv420p",
            "-y", str(path)]  # fmt: skip
    subprocess.run(argv, input=b"".join(frames), check=True, timeout=60)
    return path


def test_even_motion_reads_as_one_step_a_frame(tmp_path):
    counts = pacing.steps(video_of_steps(tmp_path / "even.mp4", [1] * 60), FRAME, skip_s=0)
    assert counts == {1: 60}
    assert pacing.pacing(counts)["uneven_steps_pct"] == 0.0


def test_a_picture_shown_twice_then_skipped_reads_as_two_uneven_steps(tmp_path):
    steps = [2] * 20 + [1, 3] + [2] * 20  # a 60 fps page grabbed at 30, one judder
    counts = pacing.steps(video_of_steps(tmp_path / "judder.mp4", steps), FRAME, skip_s=0)
    assert counts == {2: 40, 1: 1, 3: 1}
    found = pacing.pacing(counts)
    assert found["page_frames_per_file_frame"] == 2
    assert found["uneven_steps_pct"] == pytest.approx(100 * 2 / 42, abs=0.01)
