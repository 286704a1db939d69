"""Describe's body is built from the models the OpenAPI document is generated from: what
the workers store in a task's Result reaches the answer whole, and the answer is the spec's."""

from __future__ import annotations

from tests.support.openapi import assert_conforms
from workers.common.domain.describe import describe, task_view
from workers.common.domain.specs.recorder import RecorderStart
from workers.common.domain.states import Status
from workers.common.domain.store import TaskRecord
from workers.common.runtime.finalize import video_entry
from workers.common.runtime.session import UploadedFile
from workers.recorder import delivery

TASK_ID = "0f7d9522-a1a3-4517-b5ad-7a6eca000000"
FILE = UploadedFile("a.mp4", "t/a.mp4", "http://farm/files/t/a.mp4", 1234, 12.5)
RECORDER = RecorderStart.model_validate(
    {"SdkAppId": 1400000000, "StrRoomId": "class 7", "UserId": "u1", "UserSig": "sig"}
)


def record(service: str = "panorama", **fields) -> TaskRecord:
    return TaskRecord(TASK_ID, service, Status.FINISHED, spec={}, **fields)


def test_a_recorders_result_reaches_describe_whole():
    # Given the Result the recorder stores: its file, and the seeds' body
    result = {"Videos": [video_entry(FILE)], **delivery.seeds_body(RECORDER, [FILE], "")}
    # When it is described
    body = describe(record("recorder", result=result), "rid")
    # Then nothing is lost, and the answer is a Task of the spec
    assert body["Result"] == result
    assert_conforms(body, "Task")


def test_a_failures_result_reaches_describe_whole():
    result = {
        "ErrorCode": "RecordFailed",
        "ErrorMessage": "nothing was recorded",
        **delivery.seeds_body(RECORDER, [], "nothing was recorded"),
    }
    body = describe(record("recorder", result=result), "rid")
    assert body["Result"] == result
    assert body["Result"]["Files"][0]["Status"] == 0
    assert_conforms(body, "Task")


def test_describe_keeps_the_seeds_fields_and_leaves_out_what_is_unset():
    task = record(
        times={"create_time": 100, "start_time": 101},
        progress={"RecordedSeconds": "12.5", "Note": "not json"},
        callbacks=[{"Attempt": 1, "Time": 102, "Ok": False, "Error": "HTTP 500"}],
    )
    body = describe(task, "rid")
    assert body == {
        "TaskID": TASK_ID,
        "RequestID": "rid",
        "Service": "panorama",
        "Status": "finished",
        "CreateTime": 100,
        "StartTime": 101,
        "Result": {},
        "Progress": {"Note": "not json", "RecordedSeconds": 12.5},
        "Callback": {"Attempts": [{"Attempt": 1, "Time": 102, "Ok": False, "Error": "HTTP 500"}]},
    }
    assert_conforms(body, "Task")


def test_a_listed_task_has_no_request_id():
    assert "RequestID" not in task_view(record()).dump()
    assert_conforms({"Tasks": [task_view(record()).dump()], "RequestID": "rid"}, "TaskList")


def test_a_result_field_the_model_does_not_name_is_left_out_and_logged(caplog):
    body = describe(record(result={"ErrorCode": "X", "Surprise": 1}), "rid")
    assert body["Result"] == {"ErrorCode": "X"}
    assert "Surprise" in caplog.text
