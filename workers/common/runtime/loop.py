"""The loop every task body runs (DESIGN section 5), whatever the service.

    load the record ─▶ take the lease ─▶ capture (apply control within a poll) ─▶ finalize

A pool's Celery task is one line: ``run_task(task_id, TheSession)``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from config.settings import Settings, get_settings
from workers.common.delivery.storage import intermediate
from workers.common.domain import crypto
from workers.common.domain.errors import (
    CapstanError,
    Code,
    FarmFault,
    Fenced,
    HandedBack,
    ServiceUnavailable,
    TaskFailure,
)
from workers.common.domain.redis_client import redis_for
from workers.common.domain.services import get_service
from workers.common.domain.specs.base import rebuild
from workers.common.domain.states import CAPTURING, FINALIZING, TERMINAL, Action, Status
from workers.common.domain.store import Command, TaskRecord, TaskStore, Write, now_s
from workers.common.runtime.drain import draining
from workers.common.runtime.enqueue import requeue
from workers.common.runtime.finalize import Finalizer, end_unopened
from workers.common.runtime.lease import LeaseKeeper
from workers.common.runtime.segments import SegmentShipper
from workers.common.runtime.session import EndReason, Session, TaskContext
from workers.common.runtime.snapshots import SnapshotTaker

log = logging.getLogger(__name__)

CANCELED = EndReason("canceled before it started")


def free_disk_mb(path: Path) -> int:
    path.mkdir(parents=True, exist_ok=True)
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize // (1024 * 1024)


def run_task(
    task_id: str,
    session_cls: type[Session[Any]],
    store: TaskStore | None = None,
    settings: Settings | None = None,
) -> str:
    """Run one task to its end (or until fenced / handed back). Returns what happened.

    The task body's entry point: Settings are read here (unless given) and reach
    everything below through TaskContext."""
    settings = settings or get_settings()
    store = store or TaskStore(redis_for(settings, settings.store_db))
    record = store.get(task_id)
    if record.status in TERMINAL:
        return f"already {record.status}"
    if draining.is_set():
        # A draining worker may still receive a message (e.g. the task it just handed
        # back): taking it would only bounce it again with a new epoch. Requeue as is.
        requeue(get_service(record.service), task_id)
        return "requeued: this worker is draining"
    keeper = LeaseKeeper(store, task_id, record.epoch, settings.lease_ttl_s, settings.lease_renew_s)
    if not keeper.take():
        return "held by another worker"
    try:
        record = store.get(task_id)  # fresh, now that it is ours
        try:
            runner = TaskRunner(store, record, session_cls, keeper, settings)
        except crypto.SecretsUnreadable as failure:  # never a requeue loop: it ends here
            return end_unopened(store, record, failure, settings.record_ttl_s)
        return runner.run()
    finally:
        keeper.release()


class TaskRunner:
    def __init__(
        self,
        store: TaskStore,
        record: TaskRecord,
        session_cls: type[Session[Any]],
        keeper: LeaseKeeper,
        settings: Settings,
    ) -> None:
        self.settings = settings
        self.store = store
        self.record = record
        self.keeper = keeper
        self.service = get_service(record.service)
        spec = rebuild(session_cls.spec_model, record.spec, crypto.unseal(record.secrets))
        work_dir = self.settings.work_dir / record.task_id
        self.ctx = TaskContext(record, spec, self.settings, store, work_dir)
        self.session = session_cls(self.ctx)
        self.shipper = SegmentShipper(
            self.ctx, intermediate(self.settings, self.session.storage_type)
        )
        self.snapshots = SnapshotTaker.for_task(self.ctx, self.session, self.shipper.storage)
        if self.record.status not in FINALIZING:
            # A takeover goes on where the last worker's media ends (not after the gap).
            self.ctx.timeline = self.shipper.timeline_end()
        self._capture_stopped = False

    def run(self) -> str:
        try:
            end: EndReason | None = None
            failure: TaskFailure | None = None
            if self.record.status not in FINALIZING:
                end, failure = self._capture_safely()
            if end is CANCELED:
                self.store.retire(
                    self.record.task_id, self.record.service, self.settings.record_ttl_s
                )
                return "canceled"
            finalizer = Finalizer(
                self.ctx, self.session, self.shipper, self.keeper, snapshots=self.snapshots
            )
            status = finalizer.run(end, failure)
            shutil.rmtree(self.ctx.work_dir, ignore_errors=status != "finished")
            return status
        except Fenced:
            log.error("task %s: another worker owns it now; this one stops", self.record.task_id)
            return "fenced"
        except HandedBack:
            return "handed back"
        finally:
            if self.snapshots is not None:
                self.snapshots.close()
            self.session.close()

    # ---- capture ---------------------------------------------------------------------

    def _capture_safely(self) -> tuple[EndReason | None, TaskFailure | None]:
        try:
            return self._capture(), None
        except (Fenced, HandedBack):
            raise
        except TaskFailure as failure:
            log.warning("task %s failed: %s %s", self.record.task_id, failure.code, failure)
            return None, failure
        except Exception as exc:
            log.exception("task %s: unexpected error while capturing", self.record.task_id)
            return None, TaskFailure(f"internal error while recording: {exc}", Code.INTERNAL_ERROR)
        finally:
            self._stop_capture()

    def _stop_capture(self) -> None:
        if self._capture_stopped:
            return
        self._capture_stopped = True
        if self.keeper.lost.is_set():
            # Fenced: another worker records this task now. A graceful stop would let
            # ffmpeg close and list one more segment; session.close() kills it instead.
            return
        try:
            self.session.stop()
        except Exception:
            log.exception("task %s: stop failed; keeping what was closed", self.record.task_id)
        if not self.keeper.lost.is_set():
            self._ship()

    def _capture(self) -> EndReason:
        status = self.record.status
        paused = status is Status.PAUSED
        if status is Status.NORMAL:
            if not self._begin():
                return CANCELED
        elif status in CAPTURING:
            self.session.start()  # a takeover: carry on where the last worker was
            self._count_takeover()
        return self._loop(paused)

    def _count_takeover(self) -> None:
        """What this takeover lost, in Progress (Describe, callbacks, `capstan watch`).

        A recording loses the open segment and the takeover time; a push resumes from
        its stored position, so it loses no media (the room waits)."""
        before = self.record.progress
        figures: dict[str, Any] = {"Takeovers": int(before.get("Takeovers", 0)) + 1}
        if self.session.produces_media:
            lost = self.shipper.unstored_s(time.time(), self.record.capture_since)
            total = float(before.get("MediaLostSeconds", 0)) + lost
            figures["MediaLostSeconds"] = round(total, 2)
            log.warning("task %s taken over: %.1fs of media lost", self.record.task_id, lost)
        with contextlib.suppress(ServiceUnavailable):
            self.ctx.report(**figures)
        self._mark_capture()

    def _mark_capture(self) -> None:
        """Capture (re)starts now: a later takeover counts its loss from here at the most."""
        task_id, since = self.record.task_id, round(time.time(), 2)
        try:
            outcome = self.store.advance(task_id, self.record.epoch, capture_since=since)
        except ServiceUnavailable:
            return  # only a figure: the recording goes on
        if outcome is Write.STALE:
            raise Fenced(task_id)

    def _begin(self) -> bool:
        """Wait for ManualStart if asked, start, and move normal -> capturing."""
        free_mb = free_disk_mb(self.ctx.work_dir)
        if free_mb < self.settings.min_free_disk_mb:
            raise FarmFault(f"the worker's disk is full ({free_mb} MB free)", Code.DISK_FULL)
        while not self.session.wait_for_start():
            self._check_ownership()
            command = self.store.next_command(self.record.task_id, self.settings.control_poll_s)
            if command is not None and command.action is Action.STOP:
                return False
        self.session.start()
        outcome = self.store.advance(
            self.record.task_id,
            self.record.epoch,
            expect=frozenset({Status.NORMAL}),
            status=self.service.capturing,
            start_time=now_s(),
            capture_since=round(time.time(), 2),
        )
        if outcome is Write.STALE:
            raise Fenced(self.record.task_id)
        return outcome is Write.OK  # WRONG_STATE: a Stop came first (canceled)

    def _loop(self, paused: bool) -> EndReason:
        limit = self.session.max_duration_s()
        captured = self.shipper.seconds  # what earlier workers recorded counts too
        last = time.monotonic()
        while True:
            now = time.monotonic()
            captured += 0.0 if paused else now - last
            last = now
            self._check_ownership(drain=True)
            if limit and captured >= limit:
                return EndReason(f"MaxDurationLimit of {limit:.0f}s reached")
            command = self._next_command()
            # Again after the wait for a command, where a frozen worker most likely was:
            # nothing (a pull started, a segment shipped) for a task it no longer owns.
            self._check_ownership()
            if command is not None:
                if command.action is Action.STOP:
                    return EndReason("stopped")
                paused = self._apply(command.action, paused)
            if not paused:
                reason = self.session.poll() or self._disk_reason()
                if reason is not None:
                    return reason
            self._ship()

    def _next_command(self) -> Command | None:
        """The next control command; while Redis is away, media keeps flowing to disk."""
        try:
            return self.store.next_command(self.record.task_id, self.settings.control_poll_s)
        except ServiceUnavailable:
            log.warning("task %s: task store unreachable, recording on", self.record.task_id)
            time.sleep(self.settings.control_poll_s)
            return None

    def _ship(self) -> None:
        if not self.session.produces_media:
            return
        # While Redis is away the segments stay on disk; they are shipped once it is back.
        with contextlib.suppress(ServiceUnavailable):
            self.shipper.ship_new()
            if self.snapshots is not None:  # of the segments just listed
                self.snapshots.take_new(self.shipper.listed)

    def _disk_reason(self) -> EndReason | None:
        """End (keeping what was recorded) before a full disk corrupts the segments."""
        free_mb = free_disk_mb(self.ctx.work_dir)
        if free_mb >= self.settings.min_free_disk_mb:
            return None
        message = f"the worker's disk is almost full ({free_mb} MB free): recording ended early"
        return EndReason("disk full", Code.DISK_FULL, message)

    def _apply(self, action: Action, paused: bool) -> bool:
        try:
            if action is Action.PAUSE and not paused:
                self.session.pause()
                return True
            if action is Action.RESUME and paused:
                self.session.resume()
                self._mark_capture()
                return False
            if action is Action.REFRESH:
                self.session.refresh()
        except TaskFailure:
            raise
        except CapstanError as exc:
            log.warning("task %s: %s ignored: %s", self.record.task_id, action, exc)
        return paused

    def _check_ownership(self, drain: bool = False) -> None:
        if not self.keeper.confirm():
            raise Fenced(self.record.task_id)
        if drain and draining.is_set():
            self._hand_back()

    def _hand_back(self) -> None:
        self._stop_capture()
        self.keeper.release()
        epoch = self.store.bump_epoch(self.record.task_id)
        if epoch > 0:
            requeue(self.service, self.record.task_id)
            log.info("task %s handed back with epoch %d", self.record.task_id, epoch)
        raise HandedBack(self.record.task_id)
