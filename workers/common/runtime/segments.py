"""Shipping closed segments to intermediate storage and listing them in the record.

ffmpeg's segment muxer appends a line to the run's CSV list when it closes a segment,
so a listed segment is complete: ship it, then append it (fenced by epoch) to the task's
segment list. The final file is the concatenation of that list, in order.

Only this epoch's runs are shipped, plus what an earlier epoch had closed on this disk
when this worker took the task over (a worker on the same machine that died or froze):
an old worker coming back must not get its late segments listed by the new one.

Each listed segment says when it was closed (``closed_at``, unix time, within a poll),
so that a worker taking the task over can tell how much media the takeover lost.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from workers.common.delivery.storage import Storage
from workers.common.domain.errors import Code, FarmFault, Fenced
from workers.common.media.ffmpeg import Ends
from workers.common.media.ffprobe import stream_ends
from workers.common.runtime.session import TaskContext

log = logging.getLogger(__name__)

# A directory that is not shared: another machine recorded this segment.
SEGMENTS_LOST = (
    "segment {key} is not in this machine's intermediate storage directory: on a farm of "
    "several machines set CAPSTAN_INTERMEDIATE_STORAGE=s3, or CAPSTAN_INTERMEDIATE_DIR to a "
    "directory every worker shares"
)


class SegmentShipper:
    def __init__(self, ctx: TaskContext[Any], storage: Storage) -> None:
        self.ctx = ctx
        self.storage = storage
        stored = ctx.store.segments(ctx.task_id)
        # What this worker knows is listed, in order: a store that lost some (a failover)
        # gets them again before the next one.
        self.listed = stored
        self.shipped = {item["name"] for item in stored}
        self.seconds = sum(float(item["duration"]) for item in stored)
        self.bytes = sum(int(item["size"]) for item in stored)
        self.last_name = max(self.shipped, default="")  # names sort in recording order
        self._last_closed_at = max((float(i.get("closed_at", 0)) for i in stored), default=0.0)
        self._own = f"e{ctx.epoch:04d}"  # SegmentRun stems: e<epoch>r<run>
        self._inherited = {
            name for name, _ in self._closed_segments() if not name.startswith(self._own)
        }

    def key(self, name: str) -> str:
        return f"raw/{self.ctx.task_id}/{name}"

    def ship_new(self) -> int:
        shipped = 0
        for name, duration in self._closed_segments():
            if name in self.shipped:
                continue
            if not self._ours(name):
                self.shipped.add(name)  # never: see the module's docstring
                log.warning("task %s: %s is not this epoch's: left out", self.ctx.task_id, name)
                continue
            path = self.ctx.segment_dir / name
            if not path.exists():
                continue
            size = path.stat().st_size
            if size == 0:  # closed before its first packet (a user still connecting)
                self.shipped.add(name)
                continue
            self.storage.put(path, self.key(name))
            entry = {
                "name": name,
                "key": self.key(name),
                "duration": duration,
                "size": size,
                "closed_at": round(time.time(), 2),
            }
            if not self.ctx.store.add_segment(
                self.ctx.task_id, self.ctx.epoch, entry, listed=self.listed
            ):
                raise Fenced(self.ctx.task_id)
            self.listed.append(entry)
            self.shipped.add(name)
            self.last_name = name
            self.seconds += duration
            self.bytes += size
            shipped += 1
        self.ctx.report(
            RecordedSeconds=round(self.seconds, 2), Bytes=self.bytes + self._open_bytes()
        )
        return shipped

    def unstored_s(self, now: float, capture_since: float) -> float:
        """Media not stored between the end of the last stored segment (or the last time
        capture started or resumed, if later) and ``now``, less what an earlier epoch
        closed on this disk and this worker will still ship. At a takeover: what it lost,
        the open segment and the takeover time (an upper bound if the source was away)."""
        since = max(self._last_closed_at, capture_since)
        if not since:
            return 0.0
        pending = sum(
            duration
            for name, duration in self._closed_segments()
            if name in self._inherited and name not in self.shipped
        )
        return max(0.0, now - since - pending)

    def _ours(self, name: str) -> bool:
        """This epoch's, or inherited at takeover; and after the last listed (in order)."""
        mine = name.startswith(self._own) or name in self._inherited
        return mine and name > self.last_name

    def timeline_end(self) -> Ends:
        """Where the media recorded before this worker ends: the last stored segment, or
        the last one an earlier epoch closed on this disk (shipped by this worker later)."""
        stored = self.ctx.store.segments(self.ctx.task_id)
        last = stored[-1]["name"] if stored else ""
        local = max(self._inherited, default="")
        if local > last:
            return stream_ends(self.ctx.segment_dir / local, self.ctx.settings.ffprobe)
        if not last:
            return Ends()
        path = self.ctx.segment_dir / last
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            self.storage.get(stored[-1]["key"], path)
        return stream_ends(path, self.ctx.settings.ffprobe)

    def fetch_all(self) -> list[Path]:
        """Every stored segment as a local file, in recording order."""
        paths = []
        for item in self.ctx.store.segments(self.ctx.task_id):
            local = self.ctx.segment_dir / item["name"]
            if not local.exists():
                try:
                    self.storage.get(item["key"], local)
                except FileNotFoundError:
                    raise FarmFault(
                        SEGMENTS_LOST.format(key=item["key"]), Code.SEGMENTS_LOST
                    ) from None
            paths.append(local)
        return paths

    def discard_intermediate(self) -> None:
        for item in self.ctx.store.segments(self.ctx.task_id):
            try:
                self.storage.delete(item["key"])
            except Exception:  # a leftover raw segment is not worth failing a task for
                log.warning("could not delete intermediate segment %s", item["key"])

    def _closed_segments(self) -> list[tuple[str, float]]:
        found = []
        for list_path in sorted(self.ctx.segment_dir.glob("*.csv")):
            # Only whole lines: ffmpeg may be writing the last one right now.
            for line in list_path.read_text().split("\n")[:-1]:
                name, start, end = line.rsplit(",", 2)
                found.append((name, max(0.0, float(end) - float(start))))
        return found

    def _open_bytes(self) -> int:
        if not self.ctx.segment_dir.exists():
            return 0
        return sum(
            p.stat().st_size
            for p in self.ctx.segment_dir.glob("*.ts")
            if p.name not in self.shipped
        )
