"""Is a child's media still moving? The stall watch every pool's pipeline uses.

The idea the panorama capture started with: a figure that grows while media flows
(ffmpeg's ``out_time``, the bytes of the segments written) and the time it last grew.
A hung ffmpeg (alive, silent, writing nothing) stops it growing; after
``settings.stall_timeout_s`` without growth the session ends that run.
"""

from __future__ import annotations

import threading
import time


class StallWatch:
    """The last time ``advance(figure)`` saw the figure grow from zero; thread-safe."""

    def __init__(self, now: float | None = None) -> None:
        self._lock = threading.Lock()
        self._best = 0.0
        self._grew_at = time.monotonic() if now is None else now

    def restart(self, now: float | None = None) -> None:
        """A new run: the clock starts again (its figure starts from nothing)."""
        with self._lock:
            self._best = 0.0
            self._grew_at = time.monotonic() if now is None else now

    def advance(self, figure: float, now: float | None = None) -> bool:
        """Record the figure; True when it grew."""
        with self._lock:
            if figure <= self._best:
                return False
            self._best = figure
            self._grew_at = time.monotonic() if now is None else now
            return True

    def still_for_s(self, now: float | None = None) -> float:
        """Seconds since the figure last grew (or since the watch started)."""
        with self._lock:
            return (time.monotonic() if now is None else now) - self._grew_at
