"""What the chaos scenarios share: a farm of real processes on short timings, who holds a
task, what the output is worth, and requests kept arriving while something breaks.

The HTTP client for a real dispatcher is tests.support.api's; processes seen from /proc,
tests.support.procs's.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from config.settings import Settings
from tests.support import media
from tests.support.api import ServiceApi, local_file
from tests.support.tools import wait_until
from workers.common.domain.store import TaskStore, sub_key

SEGMENT_S = 2.0
# Short timings so that a takeover happens within seconds (the defaults are minutes-safe).
FAST = {
    "CAPSTAN_SEGMENT_SECONDS": str(int(SEGMENT_S)),
    "CAPSTAN_LEASE_TTL_S": "3",
    "CAPSTAN_LEASE_RENEW_S": "1",
    "CAPSTAN_RECONCILE_EVERY_S": "1",
    "CAPSTAN_CONTROL_POLL_S": "0.3",
}


def holder_pid(store: TaskStore, task_id: str) -> int | None:
    """The pid of the worker process holding the task's lease ("<epoch>:<host>:<pid>:<thread>")."""
    value = store.r.get(sub_key(task_id, "lease"))
    return int(value.split(":")[2]) if value else None


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.2) -> Any:
    return wait_until(predicate, timeout, interval, what)


def epoch_seconds(store: TaskStore, task_id: str, epoch: int) -> float:
    """Media seconds the worker of ``epoch`` stored (segment names start e<epoch>)."""
    prefix = f"e{epoch:04d}"
    return sum(
        float(s["duration"]) for s in store.segments(task_id) if s["name"].startswith(prefix)
    )


@dataclass(frozen=True)
class Output:
    videos: int
    path: Path | None
    duration_s: float
    streams: tuple[str, ...]
    decodes: bool

    @property
    def one_playable_file(self) -> bool:
        return self.videos == 1 and self.decodes and self.duration_s > 0


def examine(result: dict[str, Any], local_file: Any) -> Output:
    """The task's output: how many files, and does ffmpeg decode the one file to the end."""
    videos = result.get("Videos") or []
    if len(videos) != 1:
        return Output(len(videos), None, 0.0, (), False)
    path = local_file(videos[0]["FileURL"])
    info = media.probe(path)
    streams = tuple(sorted(s["codec_type"] for s in info["streams"]))
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"]
    done = subprocess.run(argv, capture_output=True, timeout=120, check=False)
    return Output(1, path, float(info["duration"]), streams, done.returncode == 0)


class Stopped(NamedTuple):
    at: float  # when Stop was sent (monotonic)
    body: dict[str, Any]  # the finished task's Describe
    output: Output


def stop_and_examine(
    api: ServiceApi, task_id: str, settings: Settings, timeout: float = 90.0
) -> Stopped:
    """Stop the task as a client does, wait until it has finished, examine its file."""
    api.act("Stop", task_id)
    at = time.monotonic()
    body = api.finished(task_id, timeout=timeout)
    return Stopped(at, body, examine(body["Result"], lambda url: local_file(settings, url)))


@dataclass
class Traffic:
    """Requests a background thread keeps sending (Starts, Describes) while a test breaks
    something: what each got, when, and how long it took."""

    answers: list[tuple[float, int, float]] = field(default_factory=list)  # sent, status, took
    accepted: list[str] = field(default_factory=list)  # TaskIDs answered 200
    bodies: list[str] = field(default_factory=list)
    _done: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def keep_sending(self, send: Callable[[], tuple[int, Any]], every_s: float) -> None:
        """send() -> (status, body), every ``every_s`` until stop()."""

        def loop() -> None:
            while not self._done.is_set():
                sent = time.monotonic()
                try:
                    status, body = send()
                except Exception as exc:  # a hang or a reset is a finding too: status 0
                    status, body = 0, {"error": repr(exc)}
                self.answers.append((sent, status, time.monotonic() - sent))
                self.bodies.append(str(body))
                if status == 200 and "TaskID" in body:
                    self.accepted.append(body["TaskID"])
                self._done.wait(max(0.0, every_s - (time.monotonic() - sent)))

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def statuses(self) -> set[int]:
        return {status for _, status, _ in self.answers}

    def slowest(self) -> float:
        return max((took for _, _, took in self.answers), default=0.0)

    def unavailable_s(self) -> float:
        """From the first 503 to the first 200 after it (or the last answer)."""
        first = next((t for t, s, _ in self.answers if s == 503), None)
        if first is None:
            return 0.0
        back = next((t for t, s, _ in self.answers if t > first and s == 200), None)
        return (back or self.answers[-1][0]) - first

    def accepted_after(self, moment: float) -> int:
        return sum(1 for t, s, _ in self.answers if t > moment and s == 200)
