"""When a sound happens against the picture: flash and beep events in a media file.

A recording of tests/pages/flashbeep.html (or of a lavfi flash-and-beep publisher) has
white flashes and 1 kHz beeps that start together. This module finds each flash onset in
the video (the first bright frame, by its presentation time) and each beep onset in the
audio (the first loud sample, at its presentation time: the stream's start plus the sample
index), pairs them, and reports beep minus flash: negative is sound early, positive late.

Timestamps are read as a player reads them: relative to the start of the file,
and the audio is checked for holes (a player plays samples one after the other, so audio
whose timestamps jump would drift against a pts-timed picture).
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RATE = 16000  # audio analysis rate: 62.5 us per sample, far below a video frame
_PTS_TIME = re.compile(rb"pts_time:\s*(-?[\d.]+)")
_TIMEOUT = 1800.0


@dataclass(frozen=True)
class Pair:
    flash_s: float  # presentation time of the first bright frame
    beep_s: float  # presentation time of the first loud sample

    @property
    def offset_ms(self) -> float:
        return (self.beep_s - self.flash_s) * 1000.0


@dataclass
class Sync:
    pairs: list[Pair]
    flashes: list[float]
    beeps: list[float]
    audio_holes_ms: list[float] = field(default_factory=list)  # gaps/overlaps in audio pts

    @property
    def offsets_ms(self) -> list[float]:
        return [p.offset_ms for p in self.pairs]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.offsets_ms)

    @property
    def spread_ms(self) -> float:
        return max(self.offsets_ms) - min(self.offsets_ms)

    def between(self, start_s: float, end_s: float) -> list[float]:
        """Offsets of the events whose flash lies in [start_s, end_s)."""
        return [p.offset_ms for p in self.pairs if start_s <= p.flash_s < end_s]

    def drift_ms_per_min(self) -> float:
        """Least-squares slope of offset against time, in ms per minute."""
        xs = [p.flash_s / 60.0 for p in self.pairs]
        ys = self.offsets_ms
        if len(xs) < 2:
            return 0.0
        slope, _ = np.polyfit(xs, ys, 1)
        return float(slope)

    def stream_drift_ms_per_hour(self, every_s: float = 2.0) -> dict[str, float]:
        """How far each stream's events slide per hour against the page's own clock (an
        event every ``every_s`` of performance.now). The sound's slope is its clock against
        the page's; the picture's also moves in whole frames, when the renderer's frame
        clock and the grabber's ticks cross phase (the offset then steps by one frame)."""
        return {
            "sound": _slope_ms_per_hour(self.beeps, every_s),
            "picture": _slope_ms_per_hour(self.flashes, every_s),
        }

    def summary(self) -> dict[str, float | int]:
        return {
            "events": len(self.pairs),
            "flashes": len(self.flashes),
            "beeps": len(self.beeps),
            "median_ms": round(self.median_ms, 1),
            "min_ms": round(min(self.offsets_ms), 1),
            "max_ms": round(max(self.offsets_ms), 1),
            "spread_ms": round(self.spread_ms, 1),
            "drift_ms_per_min": round(self.drift_ms_per_min(), 2),
            "worst_audio_hole_ms": round(max(self.audio_holes_ms, default=0.0, key=abs), 1),
        }


def _slope_ms_per_hour(onsets: list[float], every_s: float) -> float:
    """The onsets' period against ``every_s``, as ms gained per hour (events may be missing:
    each onset's number is counted from the first)."""
    if len(onsets) < 2:
        return 0.0
    numbers = [round((t - onsets[0]) / every_s) for t in onsets]
    period, _ = np.polyfit(numbers, onsets, 1)
    return float((period / every_s - 1.0) * 3_600_000)


def measure(path: str | Path, *, max_pair_s: float = 0.9) -> Sync:
    """Flash and beep onsets of ``path``, each beep paired with the nearest flash."""
    flashes = flash_onsets(path)
    beeps = beep_onsets(path)
    pairs = []
    for flash in flashes:
        near = min(beeps, key=lambda b: abs(b - flash), default=None)
        if near is not None and abs(near - flash) <= max_pair_s:
            pairs.append(Pair(flash, near))
    if not pairs:
        raise AssertionError(
            f"{path}: no flash/beep pairs ({len(flashes)} flashes, {len(beeps)} beeps)"
        )
    return Sync(pairs, flashes, beeps, audio_holes_ms(path))


def _ffmpeg(argv: list[str]) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(argv, capture_output=True, timeout=_TIMEOUT, check=False)
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-4:]
        raise AssertionError(f"{argv[0]} failed: {' | '.join(tail)}")
    return done


def flash_onsets(path: str | Path, *, bright: float = 128.0) -> list[float]:
    """Presentation times of the frames where the picture turns from dark to bright."""
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-i", str(path), "-an",
            "-vf", "scale=16:9,format=gray,showinfo", "-fps_mode", "passthrough",
            "-f", "rawvideo", "-"]  # fmt: skip
    done = _ffmpeg(argv)
    times = [float(m) for m in _PTS_TIME.findall(done.stderr)]
    lumas = np.frombuffer(done.stdout, dtype=np.uint8).reshape(-1, 16 * 9).mean(axis=1)
    count = min(len(times), len(lumas))
    onsets = []
    was_bright = True  # an event already on screen when the file starts is not an onset
    for t, luma in zip(times[:count], lumas[:count], strict=True):
        is_bright = luma >= bright
        if is_bright and not was_bright:
            onsets.append(t)
        was_bright = is_bright
    return onsets


def audio_start_s(path: str | Path) -> float:
    argv = ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
            "stream=start_time", "-of", "json", str(path)]  # fmt: skip
    streams = json.loads(_ffmpeg(argv).stdout).get("streams", [])
    if not streams:
        raise AssertionError(f"{path}: no audio stream")
    return float(streams[0].get("start_time") or 0.0)


def beep_onsets(path: str | Path, *, gap_s: float = 0.5) -> list[float]:
    """Presentation times of the first loud sample of each beep (after >= gap_s quiet)."""
    # Each sample at its presentation time: holes in the timestamps are filled with
    # silence and overlaps trimmed, so sample index / RATE is the time a pts-true player
    # plays it (audio_holes_ms reports the holes a sample-counting player would slip on).
    resample = f"aresample={RATE}:async=1:min_hard_comp=0.001:first_pts=0"
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-i", str(path), "-vn",
            "-ac", "1", "-af", resample, "-f", "s16le", "-"]  # fmt: skip
    samples = np.abs(np.frombuffer(_ffmpeg(argv).stdout, dtype=np.int16).astype(np.int32))
    if not len(samples) or samples.max() < 1000:
        return []
    loud = np.flatnonzero(samples >= samples.max() * 0.25)
    start = 0.0  # first_pts=0: sample 0 is at presentation time 0
    onsets = []
    last = -1e9
    for index in loud:
        if index - last > gap_s * RATE:
            onsets.append(start + index / RATE)
        last = index
    return onsets


def audio_holes_ms(path: str | Path, *, tolerance_ms: float = 2.0) -> list[float]:
    """Where the audio's timestamps and its samples part (positive: a hole, negative: an
    overlap): each decoded frame's pts against the previous frame's pts plus its samples.

    Decoded frames, not packets: MP4 stores a packet's duration as the step to the next
    timestamp, so a hole or overlap there only shows as a packet longer or shorter than
    its samples, while a player plays the samples back to back.
    """
    argv = ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
            "stream=sample_rate:frame=pts_time,nb_samples", "-of", "json", str(path)]  # fmt: skip
    probed = json.loads(_ffmpeg(argv).stdout)
    rate = int(probed["streams"][0]["sample_rate"])  # ffprobe 5 has no per-frame sample_rate
    holes = []
    expected = None
    for frame in probed.get("frames", []):
        try:
            pts, duration = float(frame["pts_time"]), int(frame["nb_samples"]) / rate
        except (KeyError, ValueError):
            continue
        if expected is not None and abs(pts - expected) * 1000 > tolerance_ms:
            holes.append((pts - expected) * 1000)
        expected = pts + duration
    return holes
