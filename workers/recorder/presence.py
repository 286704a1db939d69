"""Is the user in the room? How long have they been away, and when do we look again?

Pure bookkeeping on a monotonic clock (the session passes ``now``), so the rules are
unit-tested without streams: absence counts from the start until the user is first seen,
and from the moment a run ends until the next one carries media; paused time never counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FIRST_RETRY_S = 0.25


@dataclass
class Presence:
    max_idle_s: float
    retry_max_s: float
    ever_seen: bool = False
    present: bool = False
    absent_since: float | None = None
    next_try: float = 0.0
    _backoff: float = field(default=FIRST_RETRY_S)

    def begin(self, now: float) -> None:
        """Capture starts (or resumes): away from now on until media arrives."""
        self.present = False
        self.absent_since = now
        self.next_try = now
        self._backoff = FIRST_RETRY_S

    def seen(self) -> None:
        self.ever_seen = self.present = True
        self.absent_since = None
        self._backoff = FIRST_RETRY_S

    def run_ended(self, now: float) -> None:
        """A pull ended: the user is away since now (if they were here); look again soon."""
        if self.present or self.absent_since is None:
            self.absent_since = now
        self.present = False
        self.next_try = now + self._backoff
        self._backoff = min(self._backoff * 2, self.retry_max_s)

    def due(self, now: float) -> bool:
        return now >= self.next_try

    def absent_for(self, now: float) -> float:
        return 0.0 if self.absent_since is None else now - self.absent_since

    def idle(self, now: float) -> bool:
        """Away for MaxIdleTime: the recording ends."""
        return self.absent_since is not None and now - self.absent_since >= self.max_idle_s
