"""Is the other side here? How long has it been away, and when do we look again?

The recorder asks it of the user it pulls, the pusher of its source (or room). Away
for ``max_idle_s`` (MaxIdleTime) and the task ends; while away, looks are spaced by a
``Backoff``. Absence counts from when the side was last lost (or from ``begin``) until
it is seen again; time between ``forget_absence`` and the next loss never counts.

Bookkeeping only, on an injected clock. Every method that reads the time also takes
``now``, so a caller asking several questions in one poll asks them at one instant.
"""

from __future__ import annotations

import time

from workers.common.pacing.backoff import Backoff, Clock


class Presence:
    def __init__(self, max_idle_s: float, backoff: Backoff, clock: Clock = time.monotonic):
        self.max_idle_s = max_idle_s
        self.backoff = backoff
        self.clock = clock
        self.ever_seen = False
        self.present = False
        self.absent_since: float | None = None
        self.next_try = 0.0

    def begin(self, now: float | None = None) -> None:
        """Looking starts (or resumes): away from now on until seen; look at once."""
        now = self._now(now)
        self.present = False
        self.absent_since = self.next_try = now
        self.backoff.reset()

    def seen(self) -> None:
        self.ever_seen = self.present = True
        self.absent_since = None
        self.backoff.reset()

    def left(self, now: float | None = None) -> None:
        """Lost from now on; the first look after the current delay. Already away: the
        absence keeps counting from its start and the next look stays where it was."""
        if self.present or self.absent_since is None:
            now = self._now(now)
            self.absent_since = now
            self.next_try = now + self.backoff.delay
        self.present = False

    def tried(self, now: float | None = None) -> None:
        """A look was made now: the next one after the next (longer) delay."""
        self.next_try = self._now(now) + self.backoff.next()

    def run_ended(self, now: float | None = None) -> None:
        """A try ended without the other side: away (since now, if it was here); look again."""
        now = self._now(now)
        self.left(now)
        self.tried(now)

    def forget_absence(self) -> None:
        """A pause ended: time away before it never counts (nor does the pause)."""
        self.absent_since = None

    def due(self, now: float | None = None) -> bool:
        return self._now(now) >= self.next_try

    def absent_for(self, now: float | None = None) -> float:
        return 0.0 if self.absent_since is None else self._now(now) - self.absent_since

    def idle(self, now: float | None = None) -> bool:
        """Away for max_idle_s: the task ends."""
        return self.absent_since is not None and self.absent_for(now) >= self.max_idle_s

    def _now(self, now: float | None) -> float:
        return self.clock() if now is None else now
