"""One push run: an ffmpeg publishing into the room, its position, and why it ended.

ffmpeg writes its progress blocks (``out_time_us=...``, ``progress=continue|end``) to
stderr with its messages; the progress moves the position, the rest is kept for the
error message.
"""

from __future__ import annotations

import collections
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from workers.common.domain.errors import Code
from workers.common.media.process import ManagedProcess
from workers.common.media.stall import StallWatch

_PROGRESS_LINE = re.compile(r"^[a-z0-9_]+=\S*$")
# "[rtmp @ 0x55d0c0a8e0] Server error: Already publishing": what the server said.
_PROTOCOL = re.compile(r"^\[(?:rtmp|rtmps|tcp|tls|http|https) @ 0x[0-9a-f]+\] ")


@dataclass(frozen=True)
class Failure:
    side: str  # "room": the publish failed; "source": the input did; "": cannot tell
    message: str
    code: Code | None = None  # the task's error code, when the side alone does not say it


class PushRun:
    def __init__(self, name: str, argv: list[str], secrets: Sequence[str] = ()) -> None:
        self._lock = threading.Lock()
        self._out_time_s = 0.0
        self._ended = False
        self._progress = StallWatch()  # out_time growing: media is being published
        self._messages: collections.deque[str] = collections.deque(maxlen=20)
        self.process = ManagedProcess(name, argv, on_line=self._line, secrets=secrets)

    def start(self) -> PushRun:
        self._progress.restart()
        self.process.start()
        return self

    # ---- what it did -----------------------------------------------------------------

    @property
    def out_time_s(self) -> float:
        """Seconds of media published by this run."""
        with self._lock:
            return self._out_time_s

    @property
    def flowing(self) -> bool:
        return self.out_time_s > 0

    @property
    def alive(self) -> bool:
        return self.process.alive

    @property
    def reached_end(self) -> bool:
        """ffmpeg exited 0 after its last progress block: the input ended (or 'q')."""
        with self._lock:
            ended = self._ended
        return ended and self.process.returncode == 0

    @property
    def stalled_for_s(self) -> float:
        """Seconds since the published position last moved (a hung ffmpeg stops it)."""
        return self._progress.still_for_s()

    def messages(self) -> list[str]:
        with self._lock:
            return list(self._messages)

    def wait_flowing(self, timeout_s: float) -> bool:
        """Until media flows (True) or ffmpeg exits or the time is up (False)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.flowing:
                return True
            if not self.alive:
                return self.flowing
            time.sleep(0.05)
        return self.flowing

    def stop(self, grace_s: float = 3.0) -> None:
        """'q': ffmpeg sends what it has, closes the publish and reports its last position.

        A hung ffmpeg answers none of the steps: a short ``grace_s`` gets to SIGKILL sooner.
        """
        self.process.stop(quit_key=True, grace_s=grace_s)
        self.process.close()

    # ---- internals -------------------------------------------------------------------

    def _line(self, line: str) -> None:
        if not _PROGRESS_LINE.match(line):
            with self._lock:
                self._messages.append(line)
            return
        key, _, value = line.partition("=")
        if key == "out_time_us" and value.lstrip("-").isdigit():
            seconds = int(value) / 1e6
            with self._lock:
                if seconds > self._out_time_s:
                    self._out_time_s = seconds
                    self._progress.advance(seconds)
        elif key == "progress" and value == "end":
            with self._lock:
                self._ended = True


def failure_of(run: PushRun, source_url: str, room_url: str) -> Failure:
    """Which side failed and why, from the last message naming either URL: ffmpeg prints
    "<url>: <reason>" for an input or output it could not open or write, after the
    protocol's own words ("[rtmp @ 0x..] Server error: Already publishing")."""
    lines = run.messages()
    said = [_PROTOCOL.sub("", line) for line in lines if _PROTOCOL.match(line)]
    for line in reversed(lines):
        for side, url in (("room", room_url), ("source", source_url)):
            if url and url in line:
                reason = line.split(url, 1)[1].lstrip(": ") or line
                return Failure(side, "; ".join([*said[-2:], reason]))
    code = run.process.returncode
    detail = " | ".join(lines[-3:]) or "no message"
    return Failure("", f"ffmpeg exited with code {code}: {detail}")
