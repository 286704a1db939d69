"""A recorded frame as pixels (numpy), and what a viewer sees in a part of it: ink (dark
strokes), a shape against another shape, a colour's share, movement between two frames."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import NamedTuple

import numpy as np


class Box(NamedTuple):
    x: int
    y: int
    w: int
    h: int


def pixels(path: str | Path, t: float, box: Box) -> np.ndarray:
    """The box of the frame at t seconds: an (h, w, 3) array of R, G, B, 0-255."""
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-ss", f"{t}",
            "-i", str(path), "-frames:v", "1", "-vf", f"crop={box.w}:{box.h}:{box.x}:{box.y}",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]  # fmt: skip
    data = subprocess.run(argv, capture_output=True, check=True, timeout=60).stdout
    assert len(data) == box.w * box.h * 3, f"no frame at {t}s in {path}"
    return np.frombuffer(data, np.uint8).reshape(box.h, box.w, 3)


def ink(image: np.ndarray) -> np.ndarray:
    """Where the picture is dark (text strokes on a light page): a boolean mask."""
    return np.asarray(image.mean(axis=2) < 128)


def shape_difference(a: np.ndarray, b: np.ndarray) -> float:
    """How much two ink masks differ: 0 for the same shape, 1 for shapes with nothing in
    common (pixels inked in one only, over pixels inked in either)."""
    either = np.logical_or(a, b).sum()
    return float(np.logical_xor(a, b).sum() / either) if either else 0.0


def share(image: np.ndarray, rgb: tuple[int, int, int], tol: int = 60) -> float:
    """The fraction of pixels within tol (per channel) of the colour rgb."""
    near = np.abs(image.astype(int) - np.array(rgb)).max(axis=2) <= tol
    return float(near.mean())


def movement(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two same-sized pictures, 0-255: ~1 for a still picture
    (encoder noise), tens for moving video."""
    return float(np.abs(a.astype(int) - b.astype(int)).mean())
