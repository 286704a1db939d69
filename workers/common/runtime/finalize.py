"""After capture: transcode ─▶ upload ─▶ callback ─▶ finished, each visible in Describe.

An error at any step still ends in ``finished`` with Result.ErrorCode; nothing is deleted
locally or from intermediate storage before the output is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from workers.common.delivery.callback import deliver, failure_message
from workers.common.domain.describe import describe
from workers.common.domain.errors import Code, Fenced, TaskFailure
from workers.common.domain.states import FINALIZING, OWNED, Status
from workers.common.domain.store import TaskRecord, TaskStore, Write, now_s
from workers.common.media.ffprobe import probe
from workers.common.pacing.backoff import Retries, RetryPolicy
from workers.common.runtime.lease import LeaseKeeper
from workers.common.runtime.segments import SegmentShipper
from workers.common.runtime.session import (
    Destination,
    EndReason,
    Session,
    TaskContext,
    UploadedFile,
)
from workers.common.runtime.snapshots import SnapshotTaker

log = logging.getLogger(__name__)

_ANY_OWNED = OWNED | {Status.NORMAL}


class Finalizer:
    def __init__(
        self,
        ctx: TaskContext[Any],
        session: Session[Any],
        shipper: SegmentShipper,
        keeper: LeaseKeeper,
        snapshots: SnapshotTaker | None = None,
    ) -> None:
        self.ctx = ctx
        self.session = session
        self.shipper = shipper
        self.keeper = keeper
        self.snapshots = snapshots
        self.error_code = ""
        self.error_message = ""

    def run(self, end: EndReason | None, failure: TaskFailure | None) -> str:
        if failure is not None:
            self._fail(failure.code, str(failure))
        elif end is not None and end.error_code:
            self._fail(end.error_code, end.error_message)
        first = Status.TRANSCODE if self.session.produces_media else Status.CALLBACK
        stop_fields = {} if "stop_time" in self.ctx.record.times else {"stop_time": now_s()}
        self._advance(first, **stop_fields)
        files = self._deliver_media() if self.session.produces_media else []
        result = self._result(files)
        self._advance(None, result=result)
        self._call_back(files, result)
        self._advance(Status.FINISHED, finish_time=now_s(), result=self._result(files))
        self.ctx.store.retire(
            self.ctx.task_id, self.ctx.record.service, self.ctx.settings.record_ttl_s
        )
        return "finished" if not self.error_code else f"finished with {self.error_code}"

    # ---- steps -----------------------------------------------------------------------

    def _deliver_media(self) -> list[UploadedFile]:
        out_dir = self.ctx.work_dir / "out"
        try:
            segments = self.shipper.fetch_all()
            if not segments:
                if not self.error_code:
                    self._fail(
                        Code.NO_MEDIA_RECORDED, "nothing was recorded: no segment was closed"
                    )
                return []
            if self.snapshots is not None:  # the segments are local now: the last frame
                self.snapshots.finish()
            out_dir.mkdir(parents=True, exist_ok=True)
            self.ctx.record = self.ctx.store.get(self.ctx.task_id)  # StopTime names files
            outputs = self.session.transcode(segments, out_dir)
        except TaskFailure as exc:
            self._fail(exc.code or Code.TRANSCODE_FAILED, f"transcoding failed: {exc}")
            return []
        except Exception as exc:
            log.exception("task %s: transcode failed", self.ctx.task_id)
            self._fail(Code.TRANSCODE_FAILED, f"transcoding failed: {exc}")
            return []
        self._advance(Status.UPLOAD)
        try:
            files = self._upload_with_retries(outputs)
        except Exception as exc:
            log.warning("task %s: upload failed: %s", self.ctx.task_id, exc)
            self._fail(
                Code.UPLOAD_FAILED, f"writing to storage failed: {exc}; the recording is kept"
            )
            return []
        self.shipper.discard_intermediate()
        return files

    def _upload_with_retries(self, outputs: list[Path]) -> list[UploadedFile]:
        """Storage down for minutes is ridden out: retry with backoff for the window."""
        settings = self.ctx.settings
        return retry_upload(
            lambda: upload(
                outputs, self.session.destination(), self.shipper.seconds, settings.ffprobe
            ),
            Retries(RetryPolicy(window_s=settings.upload_retry_window_s)),
            stop=self.keeper.lost.is_set,
            task_id=self.ctx.task_id,
        )

    def _call_back(self, files: list[UploadedFile], result: dict[str, Any]) -> None:
        url = self.session.callback_url()
        if not url:
            return
        self._advance(Status.CALLBACK)
        record = self.ctx.store.get(self.ctx.task_id)
        body = describe(record, record.request_id)
        body.update(Status=Status.FINISHED.value, FinishTime=now_s(), Result=result)
        settings = self.ctx.settings
        policy = RetryPolicy(
            window_s=settings.callback_retry_window_s,
            first_backoff_s=settings.callback_first_backoff_s,
        )
        delivery = deliver(
            url,
            self._with_snapshots(self.session.callback_body(body, files), result),
            secret=settings.callback_secret,
            policy=policy,
            timeout_s=settings.callback_timeout_s,
            allowlist=settings.url_allowlist,
            record_attempt=lambda a: self.ctx.store.add_callback_attempt(self.ctx.task_id, a),
            should_stop=self.keeper.lost.is_set,
        )
        if not delivery.ok and not self.error_code:
            self._fail(Code.CALLBACK_FAILED, failure_message(delivery))

    # ---- helpers ---------------------------------------------------------------------

    def _fail(self, code: str, message: str) -> None:
        if not self.error_code:  # the first error is the cause; later ones follow from it
            self.error_code, self.error_message = code, message

    def _result(self, files: list[UploadedFile]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if self.error_code:
            result.update(ErrorCode=self.error_code, ErrorMessage=self.error_message)
        if files:
            result["Videos"] = [video_entry(f) for f in files]
        result.update(self.session.result_extra(files, self.error_message))
        if self.snapshots is not None:
            result.update(self.snapshots.result())
        return result

    def _with_snapshots(self, body: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        """A body of the service's own (the recorder's seeds' body, no Result) carries the
        snapshots at its top level; Describe's body has them in its Result."""
        if self.snapshots is None or "Result" in body:
            return body
        return {**body, **{k: v for k, v in result.items() if k.startswith("Snapshots")}}

    def _advance(self, status: Status | None, **fields: Any) -> None:
        outcome = self.ctx.store.advance(
            self.ctx.task_id,
            self.ctx.epoch,
            expect=_ANY_OWNED | FINALIZING,
            status=status,
            **fields,
        )
        if outcome is Write.STALE:
            raise Fenced(self.ctx.task_id)


def upload(
    outputs: list[Path], destination: Destination, recorded_s: float, ffprobe: str
) -> list[UploadedFile]:
    """Store every output file; list the main ones (an MP4, or an HLS playlist standing for
    the .ts parts that follow it), in order: the first is the main file.

    A playlist's duration is what was recorded: probing it would fetch its (remote) key.
    """
    files: list[UploadedFile] = []
    for path in outputs:
        key = f"{destination.directory.strip('/')}/{path.name}".lstrip("/")
        destination.storage.put(path, key)
        size = path.stat().st_size
        if files and files[-1].filename.endswith(".m3u8") and path.suffix == ".ts":
            files[-1] = replace(files[-1], size=files[-1].size + size)  # a playlist's part
            continue
        duration = recorded_s if path.suffix == ".m3u8" else probe(path, ffprobe).duration_s
        files.append(UploadedFile(path.name, key, destination.storage.url(key), size, duration))
    return files


def retry_upload(
    attempt: Callable[[], list[UploadedFile]],
    retries: Retries,
    *,
    stop: Callable[[], bool],
    task_id: str,
) -> list[UploadedFile]:
    """``attempt()`` until it stores the files; a final fault, ``stop()`` (the lease is
    lost) or the spent policy raises the last error."""
    while True:
        try:
            return attempt()
        except Exception as exc:
            final = not getattr(exc, "retryable", True)  # e.g. no such bucket
            delay = None if final or stop() else retries.next_delay()
            if delay is None:
                raise
            log.warning("task %s: upload failed, retrying in %.0fs: %s", task_id, delay, exc)
            retries.sleep(delay)


def video_entry(file: UploadedFile) -> dict[str, Any]:
    return {
        "Filename": file.filename,
        "FileSize": file.size,
        "FileDuration": round(file.duration_s, 3),
        "FileURL": file.url,
    }


def end_unopened(
    store: TaskStore, record: TaskRecord, failure: TaskFailure, record_ttl_s: int
) -> str:
    """A task no session can run (its secrets cannot be opened here): it ends at once,
    ``finished`` with the reason, rather than going back to the queue for ever."""
    log.error("task %s: %s", record.task_id, failure)
    result = {"ErrorCode": failure.code, "ErrorMessage": str(failure)}
    now = now_s()
    outcome = store.advance(
        record.task_id,
        record.epoch,
        expect=_ANY_OWNED | FINALIZING,
        status=Status.FINISHED,
        result=result,
        finish_time=now,
        **({} if "stop_time" in record.times else {"stop_time": now}),
    )
    if outcome is not Write.OK:
        return f"not ended: {outcome}"
    store.retire(record.task_id, record.service, record_ttl_s)
    return f"finished with {failure.code}"
