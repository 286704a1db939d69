"""The contract between the runtime and a service's media pipeline.

A pool plugs in one Session subclass. The runtime (workers/common/runtime/loop.py) calls it
from one thread, in this order:

    start()                       capture into ctx.new_run() segments; return when flowing
    poll() ... pause() resume() refresh() ...   about every control_poll_s
    stop()                        after it returns every segment file is closed
    transcode(segments, out_dir)  closed segments (in order) -> the final files
    close()                       always, even after an error; idempotent

Everything about where files go and who is called back is also asked of the session
(destination(), callback_url(), callback_body()), with defaults that suit most services.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from config.settings import Settings
from workers.common.delivery.storage import Storage, default_output
from workers.common.domain.errors import InvalidState
from workers.common.domain.specs.base import Spec
from workers.common.domain.store import TaskRecord, TaskStore
from workers.common.media.ffmpeg import Ends, SegmentRun
from workers.common.media.ffprobe import stream_ends

SpecT = TypeVar("SpecT", bound=Spec)


@dataclass(frozen=True)
class EndReason:
    """Why capture ended without a Stop: None error means a normal end (idle, page said so)."""

    why: str
    error_code: str = ""
    error_message: str = ""


@dataclass(frozen=True)
class Destination:
    storage: Storage
    directory: str  # key prefix, no leading or trailing slash
    name: str | None = None  # the main file's name; None: the runtime picks one


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    key: str
    url: str
    size: int
    duration_s: float


@dataclass
class TaskContext(Generic[SpecT]):
    record: TaskRecord
    spec: SpecT
    settings: Settings
    store: TaskStore
    work_dir: Path
    runs: int = field(default=0)
    # Where what was recorded so far ends: the next run continues from there.
    timeline: Ends = field(default_factory=Ends)

    @property
    def task_id(self) -> str:
        return self.record.task_id

    @property
    def epoch(self) -> int:
        return self.record.epoch

    @property
    def segment_dir(self) -> Path:
        return self.work_dir / "segments"

    def new_run(self) -> SegmentRun:
        """Where the next capture run writes; names sort in recording order across crashes."""
        self.runs += 1
        self.segment_dir.mkdir(parents=True, exist_ok=True)
        return SegmentRun(self.segment_dir, f"e{self.epoch:04d}r{self.runs:04d}", self.timeline)

    def end_run(self, run: SegmentRun) -> None:
        """After a run's process exited: the timeline now ends where its last segment does."""
        last = run.last_closed()
        if last is not None:
            self.timeline = stream_ends(last, self.settings.ffprobe)

    def report(self, **figures: Any) -> None:
        """Live figures for Describe's Progress (and `capstan watch`)."""
        self.store.set_progress(self.task_id, **figures)


class Session(ABC, Generic[SpecT]):
    #: The Start model this session's spec is rebuilt into from the record.
    spec_model: type[Spec]
    #: False for services that deliver no file (the pusher): no transcode/upload.
    produces_media: bool = True
    #: "cfs" (a directory) or "cos" (S3) for segments waiting during recording.
    storage_type: str = "cfs"

    def __init__(self, ctx: TaskContext[SpecT]) -> None:
        self.ctx = ctx

    @property
    def spec(self) -> SpecT:
        return self.ctx.spec

    # ---- capture ---------------------------------------------------------------------

    @abstractmethod
    def start(self) -> None:
        """Begin capturing; raise a TaskFailure when it cannot."""

    def wait_for_start(self) -> bool:
        """Called repeatedly before start() while the task waits (ManualStart). True: go."""
        return True

    @abstractmethod
    def pause(self) -> None: ...

    @abstractmethod
    def resume(self) -> None: ...

    def refresh(self) -> None:
        raise InvalidState(f"{self.ctx.record.service} has no Refresh")

    @abstractmethod
    def stop(self) -> None:
        """Stop capturing; when it returns, every segment file is closed."""

    @abstractmethod
    def poll(self) -> EndReason | None:
        """Watch the children; an EndReason ends capture. Raise TaskFailure on a failure."""

    def max_duration_s(self) -> float | None:
        return None

    # ---- finalize --------------------------------------------------------------------

    def transcode(self, segments: list[Path], out_dir: Path) -> list[Path]:
        """The closed segments, in order, to the final files: one or more outputs, each
        a main file followed by its parts (an HLS playlist's .ts), the main output first."""
        raise NotImplementedError

    def destination(self) -> Destination:
        return Destination(default_output(self.ctx.settings), self.ctx.task_id)

    def callback_url(self) -> str | None:
        return None

    def callback_body(self, describe: dict[str, Any], files: list[UploadedFile]) -> dict[str, Any]:
        return describe

    def result_extra(self, files: list[UploadedFile], error: str) -> dict[str, Any]:
        """Service-specific additions to Result (the recorder's Files)."""
        return {}

    def close(self) -> None:
        """Release every process and file; safe to call twice."""
