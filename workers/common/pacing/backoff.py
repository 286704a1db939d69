"""How long to wait before trying again: one rule for every retry in the farm.

A ``RetryPolicy`` says it (first delay, cap, jitter, and how long or how many times to
keep trying); a ``Backoff`` hands out its growing delays; ``Retries`` is one run of the
policy against a deadline. The clock and the sleep are injected, so a test runs the
whole schedule without waiting (dramatiq's ``compute_backoff`` is the same idea).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]  # seconds, monotonic
Sleep = Callable[[float], None]
Uniform = Callable[[], float]  # a random number in [0, 1)


@dataclass(frozen=True)
class RetryPolicy:
    window_s: float | None = 600.0  # keep trying this long (None: no deadline)
    first_backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    max_attempts: int | None = None  # tries in all, the first included (None: no limit)
    # Up to this fraction is taken off each delay at random, so that many workers
    # retrying the same endpoint do not come back in step.
    jitter: float = 0.0


class Backoff:
    """Delays that double from ``first_s`` up to ``max_s``, each maybe shortened by jitter."""

    def __init__(
        self, first_s: float, max_s: float, jitter: float = 0.0, rand: Uniform = random.random
    ) -> None:
        self.first_s, self.max_s, self.jitter = first_s, max_s, jitter
        self._rand = rand
        self._delay = first_s

    @classmethod
    def of(cls, policy: RetryPolicy, rand: Uniform = random.random) -> Backoff:
        return cls(policy.first_backoff_s, policy.max_backoff_s, policy.jitter, rand)

    @property
    def delay(self) -> float:
        """The next delay, before jitter (it does not grow by being read)."""
        return self._delay

    def next(self) -> float:
        """The next delay; the one after it is twice as long, up to the cap."""
        delay = self._delay
        self._delay = min(delay * 2, self.max_s)
        return delay * (1.0 - self.jitter * self._rand()) if self.jitter else delay

    def reset(self) -> None:
        self._delay = self.first_s


class Retries:
    """One run of a policy: the wait before each next try, until the policy is spent.

    The deadline counts from when this run is made (just before the first try).
    """

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        rand: Uniform = random.random,
    ) -> None:
        self.policy = policy
        self._clock, self._sleep = clock, sleep
        self._backoff = Backoff.of(policy, rand)
        self._deadline = None if policy.window_s is None else clock() + policy.window_s
        self.tries = 1

    def next_delay(self) -> float | None:
        """How long to wait before the next try; None when waiting would pass the deadline
        or the attempt limit is reached (a try must not start after the window)."""
        limit = self.policy.max_attempts
        if limit is not None and self.tries >= limit:
            return None
        delay = self._backoff.next()
        if self._deadline is not None and self._clock() + delay > self._deadline:
            return None
        self.tries += 1
        return delay

    def sleep(self, delay: float) -> None:
        self._sleep(delay)
