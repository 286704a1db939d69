"""Where in the source a run is, from the seconds it published (pure arithmetic).

A run starts at ``base`` seconds into the file and plays ``extra_passes`` more whole
passes after the first (ffmpeg's -stream_loop; -1 forever), which only happens from the
start of the file. ffmpeg reports the media seconds it published (out_time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Spot:
    position_s: float  # seconds into the file
    passes_done: int  # whole passes this run completed


@dataclass(frozen=True)
class RunPlan:
    base_s: float
    extra_passes: int  # -1: forever
    duration_s: float | None  # None: unknown or live

    def spot(self, out_time_s: float) -> Spot:
        total = self.base_s + max(0.0, out_time_s)
        duration = self.duration_s
        if not duration:
            return Spot(total, 0)
        if self.extra_passes == 0:
            return Spot(min(total, duration), 1 if total >= duration else 0)
        passes = math.floor(total / duration)
        if self.extra_passes > 0:
            passes = min(passes, self.extra_passes + 1)
            if passes == self.extra_passes + 1:
                return Spot(duration, passes)
        return Spot(total - passes * duration, passes)


@dataclass
class Passes:
    """How many passes over the file a push makes: ``Loop`` more after the first."""

    loop: int  # the request's Loop: 0 once, n more, -1 forever
    done: int = 0

    @property
    def forever(self) -> bool:
        return self.loop < 0

    @property
    def left(self) -> int:
        """Passes still to start after the current one; -1 forever."""
        return -1 if self.forever else max(0, self.loop - self.done)

    @property
    def finished(self) -> bool:
        return not self.forever and self.done > self.loop

    def extra_for_run(self, position_s: float) -> int:
        """-stream_loop for a run starting at ``position_s``: only a run from the start
        of the file loops inside ffmpeg (it would loop back to the seek point)."""
        return self.left if position_s <= 0 else 0
