"""The recorder's rule for a user's presence: while the user is away, the pull is tried
again after 0.25 s, then less and less often up to ``settings.recorder_retry_max_s``
(a returning user is caught soon, an absent one is not hammered); MaxIdleTime away
ends the recording. The bookkeeping itself is the farm's ``Presence``.
"""

from __future__ import annotations

import time

from workers.common.pacing.backoff import Backoff, Clock
from workers.common.pacing.presence import Presence

FIRST_RETRY_S = 0.25


def user_presence(max_idle_s: float, retry_max_s: float, clock: Clock = time.monotonic) -> Presence:
    return Presence(max_idle_s, Backoff(FIRST_RETRY_S, retry_max_s), clock)
