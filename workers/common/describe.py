"""Describe: the seeds' body for a task record. Never carries a secret."""

from __future__ import annotations

import json
from typing import Any

from workers.common.store import TaskRecord

_TIME_FIELDS = {
    "create_time": "CreateTime",
    "start_time": "StartTime",
    "cancel_time": "CancelTime",
    "stop_time": "StopTime",
    "finish_time": "FinishTime",
}


def describe(record: TaskRecord, request_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "TaskID": record.task_id,
        "RequestID": request_id,
        "Service": record.service,
        "Status": record.status.value,
    }
    for key, name in _TIME_FIELDS.items():
        if key in record.times:
            body[name] = record.times[key]
    body["Result"] = record.result
    if record.progress:
        body["Progress"] = {k: _number(v) for k, v in sorted(record.progress.items())}
    if record.callbacks:
        body["Callback"] = {"Attempts": record.callbacks}
    return body


def _number(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value
