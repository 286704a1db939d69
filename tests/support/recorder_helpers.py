"""The recorder's tests as a user sees them: a room user publishing, the recorder API.

Room users publish through the room backend's push URL (workers.common.domain.rooms), so the
tests exercise the same templates the farm pulls with.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from config.settings import Settings
from tests.support.api import ServiceApi
from workers.common.domain import rooms

SDK_APP_ID = 1400000000
# Recording lengths in tests are short; segments of 2 s keep the tail after Stop short too.
# Retrying an absent user's pull every 0.3 s (default: at most 1 s) makes the recorder
# join a user within a fraction of a second, so durations compare within ±1 s.
RECORDER_TEST_ENV = {
    "CAPSTAN_SEGMENT_SECONDS": "2",
    "CAPSTAN_RECORDER_RETRY_MAX_S": "0.3",
    "CAPSTAN_CALLBACK_RETRY_WINDOW_S": "10",
    "CAPSTAN_CALLBACK_FIRST_BACKOFF_S": "0.5",
    "CAPSTAN_CALLBACK_TIMEOUT_S": "2",
}
USER_SIG = "eJwtzNEKgkAUBNB-2efQ3e3eUqG3tMCKJJEIIxxxx-S*CZeOk9sHfnEhCwlUW*fE4oWusw3dULlJ7__"


def seeds_request(user_id: str, **fields: Any) -> dict[str, Any]:
    """The seeds' sample request (flat body), for ``user_id``; fields override or add."""
    body: dict[str, Any] = {
        "SdkAppId": SDK_APP_ID,
        "RoomId": 43474,
        "UserId": user_id,
        "Mode": "02",
        "UserSig": USER_SIG,
    }
    body.update(fields)
    return {key: value for key, value in body.items() if value is not None}


def push_url(settings: Settings, room: str | int, user_id: str) -> str:
    """Where a room user publishes (the room backend's push URL)."""
    return rooms.push_url(settings, SDK_APP_ID, room, user_id, USER_SIG)


class RecorderApi(ServiceApi):
    """The recorder endpoint through the dispatcher (a Flask test client)."""

    service = "recorder"

    def wait_present(self, task_id: str, present: bool = True, timeout: float = 20.0) -> float:
        """Until Describe says the recorder has (or has lost) the user's stream; when."""
        deadline = time.monotonic() + timeout
        while self.describe(task_id).get("Progress", {}).get("UserPresent") != int(present):
            if time.monotonic() > deadline:
                raise AssertionError(f"{task_id}: UserPresent never became {int(present)}")
            time.sleep(0.1)
        return time.monotonic()


def clip(path: Path, start: float, seconds: float, out: Path) -> Path:
    """``seconds`` of ``path``'s audio from ``start``, as WAV (to check a part's tone)."""
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-ss", f"{start}",
            "-t", f"{seconds}", "-i", str(path), "-vn", "-y", str(out)]  # fmt: skip
    subprocess.run(argv, check=True, capture_output=True, timeout=60)
    return out
