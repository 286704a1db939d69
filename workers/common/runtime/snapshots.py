"""Snapshots (issue 16): still images of the recording, taken from its closed segments as
they are listed, so there is no second capture and no second encode.

For each newly listed segment, one ffmpeg call (in a thread of the task's, at a lower CPU
priority: the runtime's loop and the capture never wait for it) takes the frames at the multiples of
IntervalSeconds (recording time) that fall in it, and each is stored beside the recording
at once (``<dir>/snapshots/<TaskID>_<seconds>.<fmt>``): an operator sees them during a
long recording. At the end, the last frame (``<TaskID>_end.<fmt>``). MaxCount caps them,
the last frame's place kept. A snapshot that fails is logged, counted and skipped: the
recording never waits on it or fails for it.

What was taken is kept in the task's progress (``SnapshotState``, which Describe does not
show; it shows ``Snapshots``, the count), so a worker taking the task over goes on from
the next segment and the Result lists them all.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workers.common.delivery.storage import Storage
from workers.common.domain.describe import SNAPSHOT_STATE
from workers.common.domain.errors import ServiceUnavailable
from workers.common.domain.specs.snapshots import SnapshotsConfig
from workers.common.media import snapshot
from workers.common.media.ffprobe import stream_ends
from workers.common.runtime.session import Destination, Session, TaskContext

log = logging.getLogger(__name__)

# At the end, how long delivery waits for snapshots that fell behind (a loaded machine).
FINISH_WAIT_S = 120.0
CLOSE_WAIT_S = 10.0
ESTIMATE_MARGIN_S = 1.0  # listed durations against the picture's timestamps: well within


@dataclass
class SnapshotState:
    next_s: int = 0  # the next periodic snapshot's time (recording seconds)
    through: str = ""  # the last listed segment looked at (names sort in recording order)
    times: list[int] = field(default_factory=list)  # periodic snapshots stored
    end_s: float | None = None  # the last frame's snapshot, once stored: the video's end
    failed: int = 0
    capped: bool = False
    end_est_s: float = 0.0  # where the segments looked at end, about (see _may_hold_one)

    @classmethod
    def load(cls, stored: str | None) -> SnapshotState:
        if not stored:
            return cls()
        try:
            return cls(**json.loads(stored))
        except (ValueError, TypeError):
            log.warning("unreadable snapshot state %r: starting again", stored[:80])
            return cls()


class SnapshotTaker:
    def __init__(
        self,
        ctx: TaskContext[Any],
        config: SnapshotsConfig,
        session: Session[Any],
        intermediate: Storage,
    ) -> None:
        self.ctx = ctx
        self.config = config
        self.session = session
        self.intermediate = intermediate  # where segments of another machine are
        self.state = SnapshotState.load(ctx.record.progress.get(SNAPSHOT_STATE))
        self._destination: Destination | None = None
        self._handed = self.state.through  # the last segment handed to the thread
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_task(
        cls, ctx: TaskContext[Any], session: Session[Any], intermediate: Storage
    ) -> SnapshotTaker | None:
        config = getattr(ctx.spec, "Snapshots", None)
        if not isinstance(config, SnapshotsConfig) or not session.produces_media:
            return None
        return cls(ctx, config, session, intermediate)

    # ---- the runtime's calls -----------------------------------------------------------

    def take_new(self, listed: list[dict[str, Any]]) -> None:
        """Hand the listed segments not handed yet to the snapshot thread (after each
        ship): the runtime's loop never waits for a snapshot."""
        fresh = [item for item in listed if item["name"] > self._handed]
        if not fresh:
            return
        self._handed = fresh[-1]["name"]
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._work, name=f"snapshots-{self.ctx.task_id}", daemon=True
            )
            self._thread.start()
        for item in fresh:
            self._queue.put(item)

    def finish(self, wait_s: float = FINISH_WAIT_S) -> None:
        """After capture (segments local): what is left, then the last frame."""
        try:
            listed = self.ctx.store.segments(self.ctx.task_id)
        except ServiceUnavailable:
            listed = []  # the last frame is not worth failing the delivery for
        self.take_new(listed)
        if not self.drain(wait_s):
            log.warning("task %s: snapshots still behind after %.0fs: the rest are skipped",
                        self.ctx.task_id, wait_s)  # fmt: skip
        self.close()
        if self._thread is not None:
            self._thread.join(CLOSE_WAIT_S)  # the segment at hand, if it was still on one
        if self.state.end_s is not None or not listed:
            return
        try:
            self._last_frame(self._local(listed[-1]))
        except Exception:
            log.exception("task %s: no snapshot of the last frame", self.ctx.task_id)
            self.state.failed += 1
        self._save()

    def drain(self, wait_s: float) -> bool:
        """Wait until every segment handed over was looked at; False if it took too long."""
        deadline = time.monotonic() + wait_s
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def close(self) -> None:
        """Stop the snapshot thread (after the segment at hand); idempotent."""
        self._stopped.set()
        if self._thread is not None:
            self._queue.put(None)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None or self._stopped.is_set():
                    return
                self._one(item)
            finally:
                self._queue.task_done()

    def _one(self, item: dict[str, Any]) -> None:
        try:
            if self._may_hold_one(item):
                self._segment(self._local(item))
        except Exception:  # never the recording's problem
            log.exception("task %s: no snapshot from %s", self.ctx.task_id, item["name"])
        self.state.through = item["name"]
        self._save()

    def result(self) -> dict[str, Any]:
        """Result.Snapshots (in recording order, the last frame last) and what stopped some."""
        entries = [self._entry(t, self._name(t)) for t in self.state.times]
        if self.state.end_s is not None:
            entries.append(self._entry(self.state.end_s, self._name(None)))
        result: dict[str, Any] = {"Snapshots": entries}
        if self.state.capped:
            result["SnapshotsCapped"] = True
        if self.state.failed:
            result["SnapshotsFailed"] = self.state.failed
        return result

    # ---- one segment ---------------------------------------------------------------------

    def _may_hold_one(self, item: dict[str, Any]) -> bool:
        """Whether the next time may fall in this segment: where it ends, estimated by the
        listed durations since the last segment probed, is not well before it. (Most
        segments of a long interval hold none: they cost nothing, not even a probe.)"""
        duration = item.get("duration")
        if duration is None or self.state.capped:
            return not self.state.capped
        self.state.end_est_s += float(duration)
        return self.state.end_est_s + ESTIMATE_MARGIN_S >= self.state.next_s

    def _segment(self, path: Path) -> None:
        video_end = stream_ends(path, self.ctx.settings.ffprobe).video_s
        self.state.end_est_s = video_end
        wanted = snapshot.due(self.state.next_s, video_end, self.config.IntervalSeconds)
        room = self.config.MaxCount - 1 - len(self.state.times)  # the last frame's place kept
        cut = len(wanted) > room
        wanted = wanted[: max(room, 0)]
        if wanted:
            self._take(path, wanted, carry_last=not cut)
        if cut:
            self.state.capped = True
            log.info("task %s: MaxCount reached: no more snapshots", self.ctx.task_id)

    def _take(self, path: Path, times: list[int], *, carry_last: bool) -> None:
        outputs = [self._work_dir() / self._name(t) for t in times]
        self.state.next_s = times[-1] + self.config.IntervalSeconds
        try:
            argv = snapshot.at_times(path, times, outputs, ffmpeg_cmd=self.ctx.settings.ffmpeg)
            snapshot.run(argv)
        except snapshot.SnapshotFailed as exc:
            log.warning("task %s: snapshots at %s s skipped: %s", self.ctx.task_id, times, exc)
            self.state.failed += len(times)
            return
        for index, (at, out) in enumerate(zip(times, outputs, strict=True)):
            if out.exists() and out.stat().st_size > 0:
                if self._store(out):
                    self.state.times.append(at)
                else:
                    self.state.failed += 1
            elif carry_last and index == len(times) - 1:
                # Between this segment's last frame and its end: the next segment's first
                # frame is the first one at or after it.
                self.state.next_s = at
            else:
                log.warning("task %s: no frame for the snapshot at %d s", self.ctx.task_id, at)
                self.state.failed += 1

    def _last_frame(self, path: Path) -> None:
        video_end = stream_ends(path, self.ctx.settings.ffprobe).video_s
        if video_end <= 0:
            return
        out = self._work_dir() / self._name(None)
        snapshot.run(snapshot.last_frame(path, out, video_end, ffmpeg_cmd=self.ctx.settings.ffmpeg))
        if not out.exists() or out.stat().st_size == 0:
            raise snapshot.SnapshotFailed("no frame in the last second of the recording")
        if self._store(out):
            self.state.end_s = round(video_end, 3)
        else:
            self.state.failed += 1

    # ---- helpers -------------------------------------------------------------------------

    def _local(self, item: dict[str, Any]) -> Path:
        """A listed segment as a local file (another machine's: from intermediate storage)."""
        path = self.ctx.segment_dir / item["name"]
        if not path.exists():
            self.intermediate.get(item["key"], path)
        return path

    def _store(self, local: Path) -> bool:
        try:
            destination = self.destination()
            destination.storage.put(local, self._key(local.name))
            return True
        except Exception as exc:
            log.warning("task %s: snapshot %s not stored: %s", self.ctx.task_id, local.name, exc)
            return False
        finally:
            local.unlink(missing_ok=True)

    def destination(self) -> Destination:
        if self._destination is None:
            self._destination = self.session.destination()
        return self._destination

    def _name(self, at: int | None) -> str:
        when = "end" if at is None else f"{at:06d}"
        return f"{self.ctx.task_id}_{when}.{self.config.Format}"

    def _key(self, name: str) -> str:
        return f"{self.destination().directory.strip('/')}/snapshots/{name}".lstrip("/")

    def _entry(self, at: float, name: str) -> dict[str, Any]:
        url = self.destination().storage.url(self._key(name))
        return {"Time": at, "Filename": name, "FileURL": url}

    def _work_dir(self) -> Path:
        path = self.ctx.work_dir / "snapshots"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _save(self) -> None:
        figures: dict[str, Any] = {
            SNAPSHOT_STATE: asdict(self.state),
            "Snapshots": len(self.state.times) + (self.state.end_s is not None),
        }
        if self.state.capped:
            figures["SnapshotsCapped"] = 1
        if self.state.failed:
            figures["SnapshotsFailed"] = self.state.failed
        with contextlib.suppress(ServiceUnavailable):  # kept here; written next time
            self.ctx.report(**figures)
