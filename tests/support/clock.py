"""A clock a test moves by hand: time passes only when the test (or a sleep) says so."""

from __future__ import annotations


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        """An injected sleep: returns at once, the clock moved on."""
        self.slept.append(seconds)
        self.now += seconds
