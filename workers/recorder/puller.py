"""One attempt to pull the user's stream: an ffmpeg run writing segments, and why it ended.

A run ends when the user leaves (the media server ends the stream, or nothing arrives for
rw_timeout), when the user is not there at all (the server says so at once), or when the
room backend cannot be reached. ffmpeg only tells these apart in its last stderr lines.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from workers.common.domain.rooms import redact
from workers.common.media.ffmpeg import SegmentRun
from workers.common.media.process import ManagedProcess
from workers.common.media.stall import StallWatch


class RunEnd(enum.Enum):
    GONE = "gone"  # no stream (now): the user is not in the room, or left it
    UNREACHABLE = "unreachable"  # the backend's host/port does not answer: configuration
    NO_TRACK = "no_track"  # the stream lacks what the Mode records (audio for Mode 00)


# Lower-case fragments of ffmpeg's messages, by what they mean.
_UNREACHABLE = (
    "connection refused",
    "failed to resolve hostname",
    "name or service not known",
    "no route to host",
    "network is unreachable",
    "protocol not found",
    "no such file or directory",
)
_NO_TRACK = ("matches no streams", "does not contain any stream")


def classify(tail: list[str]) -> RunEnd:
    text = "\n".join(tail).lower()
    if any(fragment in text for fragment in _NO_TRACK):
        return RunEnd.NO_TRACK
    if any(fragment in text for fragment in _UNREACHABLE):
        return RunEnd.UNREACHABLE
    return RunEnd.GONE


def last_error(tail: list[str], url: str, *secrets: str) -> str:
    """ffmpeg's last meaningful line, with the URL's credentials hidden."""
    lines = [line.strip() for line in tail if line.strip()]
    return redact(lines[-1], *secrets) if lines else ""


@dataclass
class PullRun:
    """A started ffmpeg pull and the segment run it writes."""

    run: SegmentRun
    process: ManagedProcess
    # The run's segment bytes growing: media is arriving (ffmpeg copies, and says nothing).
    progress: StallWatch = field(default_factory=StallWatch)

    @property
    def alive(self) -> bool:
        return self.process.alive

    def written(self) -> int:
        """Bytes of media this run has written so far (every segment file of the run)."""
        total = 0
        for path in self.run.directory.glob(f"{self.run.stem}_*.ts"):
            try:
                total += path.stat().st_size
            except FileNotFoundError:  # shipped and removed meanwhile
                continue
        return total

    def has_media(self) -> bool:
        """True once ffmpeg wrote media: the stream is there (its header needs data)."""
        return self.written() > 0

    def stalled_for_s(self, now: float) -> float:
        """Seconds since the run last wrote a byte (or since it started, before its first)."""
        self.progress.advance(self.written(), now)
        return self.progress.still_for_s(now)

    def stop(self, grace_s: float = 5.0) -> None:
        """'q' first: the segment muxer closes and lists the last segment.

        A hung ffmpeg answers none of the steps: a short ``grace_s`` gets to SIGKILL sooner.
        """
        self.process.stop(quit_key=True, grace_s=grace_s)
        self.process.close()

    def kill(self) -> None:
        """At once, closing nothing: for a task another worker owns now."""
        self.process.kill()

    def end(self) -> RunEnd:
        self.process.close()
        return classify(self.process.tail())
