"""Describe: the seeds' body for a task record. Never carries a secret.

The body is built as the models below, and dispatcher/openapi.py generates the spec's
Task schema from the same models, so what the spec says and what Describe answers cannot
drift apart.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from workers.common.domain.services import REGISTRY
from workers.common.domain.states import Status
from workers.common.domain.store import TaskRecord

log = logging.getLogger(__name__)

# A field that is absent from the JSON rather than null (answers are dumped without None).
Absent = SkipJsonSchema[None]
UnixTime = Annotated[int, Field(description="unix seconds")]
ServiceName = Annotated[str, Field(json_schema_extra={"enum": list(REGISTRY)})]


def _strict_schema(schema: dict[str, Any]) -> None:
    # dump() drops every other field and every None: the schema says so, for the fuzz tests.
    schema["additionalProperties"] = False
    for field in schema.get("properties", {}).values():
        if "default" in field and field["default"] is None:
            del field["default"]


class Answer(BaseModel):
    """Base of the models of an answer body."""

    model_config = ConfigDict(extra="ignore", frozen=True, json_schema_extra=_strict_schema)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class VideoFile(Answer):
    """The main file: an MP4, or an HLS playlist standing for its parts."""

    Filename: str
    FileSize: int
    FileDuration: float
    FileURL: str


class RecorderFile(Answer):
    """Seeds 000/001: one entry of the recorder's Files."""

    UserId: str
    RecordFile: str  # the file's URL; "" when nothing was recorded
    Status: Literal[0, 1]  # 1 success, 0 failure
    Message: str


class SnapshotFile(Answer):
    """A still of the recording (Snapshots): the first frame at Time, or its last frame."""

    Time: Annotated[float, Field(description="seconds into the recording")]
    Filename: str
    FileURL: str


class TaskResult(Answer):
    """What the task produced, or why it failed; empty until it ends."""

    ErrorCode: str | Absent = None
    ErrorMessage: str | Absent = None
    Videos: list[VideoFile] | Absent = None
    # The recorder's seeds' body (every id a string).
    SdkAppId: str | Absent = None
    RoomId: str | Absent = None
    StrRoomId: str | Absent = None
    UserId: str | Absent = None
    Files: list[RecorderFile] | Absent = None
    # Start's Snapshots: the stills taken; Capped when MaxCount stopped them, Failed how
    # many could not be taken or stored.
    Snapshots: list[SnapshotFile] | Absent = None
    SnapshotsCapped: bool | Absent = None
    SnapshotsFailed: int | Absent = None


class LiveOutputView(Answer):
    """Progress.LiveOutputs (panorama): one live output, its URL without the stream key."""

    Url: str  # scheme, host, port and RTMP application; the key and query as ***
    State: Literal["connecting", "live", "paused", "retrying", "failed", "ended"]
    Attempts: int  # connections tried so far
    LastError: str | Absent = None  # why the last attempt failed, credentials hidden


class CallbackAttempt(Answer):
    Attempt: int
    Time: UnixTime
    Ok: bool
    Error: str


class CallbackLog(Answer):
    Attempts: list[CallbackAttempt]


class Task(Answer):
    TaskID: str
    RequestID: str | Absent = None  # absent from a task in a list
    Service: ServiceName
    Status: Status
    CreateTime: UnixTime | Absent = None
    StartTime: UnixTime | Absent = None
    CancelTime: UnixTime | Absent = None
    StopTime: UnixTime | Absent = None
    FinishTime: UnixTime | Absent = None
    Result: TaskResult
    Progress: dict[str, Any] | Absent = None  # live figures, each service its own
    Callback: CallbackLog | Absent = None


# Progress kept for the workers, not shown: where the snapshots stand (runtime/snapshots.py).
SNAPSHOT_STATE = "SnapshotState"

_TIME_FIELDS = {
    "create_time": "CreateTime",
    "start_time": "StartTime",
    "cancel_time": "CancelTime",
    "stop_time": "StopTime",
    "finish_time": "FinishTime",
}


def describe(record: TaskRecord, request_id: str) -> dict[str, Any]:
    """The Describe body (also the callback's, before a service adapts it)."""
    return task_view(record, request_id).dump()


def task_view(record: TaskRecord, request_id: str | None = None) -> Task:
    """The task as Describe shows it; without a request_id, as a list shows it."""
    body: dict[str, Any] = {
        "TaskID": record.task_id,
        "RequestID": request_id,
        "Service": record.service,
        "Status": record.status,
        "Result": record.result,
    }
    for key, name in _TIME_FIELDS.items():
        body[name] = record.times.get(key)
    shown = {k: v for k, v in record.progress.items() if k != SNAPSHOT_STATE}
    if shown:
        body["Progress"] = {k: _number(v) for k, v in sorted(shown.items())}
        _shape_live_outputs(body["Progress"])
    if record.callbacks:
        body["Callback"] = {"Attempts": record.callbacks}
    _warn_unknown(record.result)
    return Task.model_validate(body)


def _shape_live_outputs(progress: dict[str, Any]) -> None:
    # Only the fields LiveOutputView names reach the answer (never a URL a worker kept).
    items = progress.get("LiveOutputs")
    if isinstance(items, list):
        progress["LiveOutputs"] = [LiveOutputView.model_validate(item).dump() for item in items]


def _warn_unknown(result: dict[str, Any]) -> None:
    # A field a worker stores but TaskResult does not name is left out of the answer (the
    # spec allows no other): say so, so that the model gets it rather than it being lost.
    unknown = sorted(set(result) - set(TaskResult.model_fields))
    if unknown:
        log.warning("Result fields left out of Describe (not in TaskResult): %s", unknown)


def _number(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value
