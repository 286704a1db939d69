"""Every error code in one catalogue, one exception tree, and the two control-flow signals.

    CapstanError                     code, message; .http_status from the catalogue
    ├── RequestError                 answered at the edge, nothing was started
    │   ├── InvalidParam        400  a field is missing, ill-typed or out of range
    │   ├── AuthFailure         401  missing or bad signature
    │   ├── TaskNotFound        404  unknown TaskID, or one of another service
    │   ├── InvalidState        409  the action makes no sense in the task's state
    │   ├── PayloadTooLarge     413  the body is over the farm's limit
    │   └── LimitExceeded       429  no free slot (live workers' slots, or the ceiling)
    ├── ServiceUnavailable      503  Redis (or another part of the farm) unreachable
    └── TaskFailure                  a task ended badly; its code lands in Result.ErrorCode
        ├── UserFault                caused by the request: bad page, bad source, bad bucket
        └── FarmFault                ours: a crash, a full disk, a bug

A code is raised as ``Code.X``, never as a string: CATALOGUE says who is at fault and what
it means, and the README's tables are checked against it (tests/unit/test_error_codes.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Code(StrEnum):
    # Answers to a request (the dispatcher's error body).
    INVALID_PARAM = "InvalidParam"
    AUTH_FAILURE = "AuthFailure"
    TASK_NOT_FOUND = "TaskNotFound"
    NOT_FOUND = "NotFound"
    METHOD_NOT_ALLOWED = "MethodNotAllowed"
    INVALID_STATE = "InvalidState"
    PAYLOAD_TOO_LARGE = "PayloadTooLarge"
    LIMIT_EXCEEDED = "LimitExceeded"
    INTERNAL_ERROR = "InternalError"
    SERVICE_UNAVAILABLE = "ServiceUnavailable"
    # A task's Result.ErrorCode.
    PAGE_LOAD_FAILED = "PageLoadFailed"
    MANUAL_START_TIMEOUT = "ManualStartTimeout"
    BROWSER_CRASHED = "BrowserCrashed"
    BROWSER_HUNG = "BrowserHung"
    USER_NOT_PUBLISHED = "UserNotPublished"
    ROOM_BACKEND_UNREACHABLE = "RoomBackendUnreachable"
    ROOM_REFUSED = "RoomRefused"
    SOURCE_UNAVAILABLE = "SourceUnavailable"
    SOURCE_LOST = "SourceLost"
    PUBLISH_REFUSED = "PublishRefused"
    REDIS_UNAVAILABLE = "RedisUnavailable"
    RECORD_FAILED = "RecordFailed"
    NO_MEDIA_RECORDED = "NoMediaRecorded"
    DISK_FULL = "DiskFull"
    TRANSCODE_FAILED = "TranscodeFailed"
    UPLOAD_FAILED = "UploadFailed"
    CALLBACK_FAILED = "CallbackFailed"
    SECRETS_UNREADABLE = "SecretsUnreadable"
    SEGMENTS_LOST = "SegmentsLost"


class Fault(StrEnum):
    USER = "user"  # the request: a field, page, source, room, bucket or callback it named
    FARM = "farm"  # ours: a crash, a full disk, a bug, Redis away, the farm at its limit
    EITHER = "user or farm"  # the same code for both; the raise site tells (UserFault/FarmFault)


@dataclass(frozen=True)
class Entry:
    fault: Fault
    meaning: str
    http_status: int | None = None  # None: never an answer to a request
    in_result: bool = False  # may end a task as its Result.ErrorCode


def _request(status: int, fault: Fault, meaning: str, *, in_result: bool = False) -> Entry:
    return Entry(fault, meaning, http_status=status, in_result=in_result)


def _task(fault: Fault, meaning: str) -> Entry:
    return Entry(fault, meaning, in_result=True)


CATALOGUE: dict[Code, Entry] = {
    Code.INVALID_PARAM: _request(
        400,
        Fault.USER,
        "a field is missing, ill-typed or out of range; body not JSON; unknown Action; a URL "
        "that resolves to an internal address; in a Result: SeekSecond past the end of "
        "videoSrc (pusher)",
        in_result=True,
    ),
    Code.AUTH_FAILURE: _request(
        401,
        Fault.USER,
        "missing or bad signature, or an old date (when the farm has `CAPSTAN_APP_KEYS`)",
    ),
    Code.TASK_NOT_FOUND: _request(404, Fault.USER, "unknown TaskID, or one of another service"),
    Code.NOT_FOUND: _request(404, Fault.USER, "no such path"),
    Code.METHOD_NOT_ALLOWED: _request(405, Fault.USER, "the path does not take this method"),
    Code.INVALID_STATE: _request(
        409,
        Fault.USER,
        "e.g. Pause when not recording, anything but Describe after Stop, a second recorder "
        "of the same user in the same room",
    ),
    Code.PAYLOAD_TOO_LARGE: _request(413, Fault.USER, "body over `CAPSTAN_MAX_BODY_BYTES`"),
    Code.LIMIT_EXCEEDED: _request(
        429,
        Fault.FARM,
        (
            "no free slot: the service's tasks fill its live workers' slots (or "
            "`CAPSTAN_ADMISSION_AUTOSCALED_SLOTS`), or `CAPSTAN_MAX_ACTIVE_TASKS`; retry later"
        ),
    ),
    Code.INTERNAL_ERROR: _request(
        500,
        Fault.FARM,
        "a bug; the farm's log has the details (under the RequestID, or the TaskID)",
        in_result=True,
    ),
    Code.SERVICE_UNAVAILABLE: _request(
        503, Fault.FARM, "Redis unreachable, or its replicas did not confirm a new task"
    ),
    Code.PAGE_LOAD_FAILED: _task(
        Fault.USER, "RecordURL could not be loaded, answered an error, or is refused (panorama)"
    ),
    Code.MANUAL_START_TIMEOUT: _task(
        Fault.USER, "ManualStart: the page did not call `window.startRecord()` in time (panorama)"
    ),
    Code.BROWSER_CRASHED: _task(
        Fault.FARM, "Chromium or its display did not start, or died (panorama)"
    ),
    Code.BROWSER_HUNG: _task(Fault.FARM, "the page stopped answering (panorama)"),
    Code.USER_NOT_PUBLISHED: _task(
        Fault.USER, "the user never published in the room within MaxIdleTime (recorder)"
    ),
    Code.ROOM_BACKEND_UNREACHABLE: _task(
        Fault.USER,
        "the room backend could not be reached before anyone was recorded or anything pushed",
    ),
    Code.ROOM_REFUSED: _task(
        Fault.USER,
        "the WebRTC room does not exist, or UserSig is not its pin (recorder, Janus backend)",
    ),
    Code.SOURCE_UNAVAILABLE: _task(
        Fault.USER,
        "videoSrc cannot be opened or read, is refused, or has neither video nor audio (pusher)",
    ),
    Code.SOURCE_LOST: _task(
        Fault.USER, "the live source was gone for more than MaxIdleTime (pusher)"
    ),
    Code.PUBLISH_REFUSED: _task(Fault.USER, "the room refused the publish (pusher)"),
    Code.REDIS_UNAVAILABLE: _task(
        Fault.USER, "the Redis that keeps the push position cannot be read (pusher)"
    ),
    Code.RECORD_FAILED: _task(
        Fault.EITHER,
        "the user's stream lacks what Mode asks for (recorder), or the screen capture failed "
        "to start, died or stalled (panorama)",
    ),
    Code.NO_MEDIA_RECORDED: _task(Fault.USER, "nothing was recorded"),
    Code.DISK_FULL: _task(
        Fault.FARM, "the worker's disk is (almost) full; what was recorded is kept"
    ),
    Code.TRANSCODE_FAILED: _task(Fault.FARM, "making the output files from the segments failed"),
    Code.UPLOAD_FAILED: _task(
        Fault.EITHER,
        "storing the output failed: the bucket refused (4xx: no such bucket, access denied), "
        "or storage stayed down for the retry window",
    ),
    Code.CALLBACK_FAILED: _task(
        Fault.USER, "the callback URL did not take the callback within its retry window"
    ),
    Code.SECRETS_UNREADABLE: _task(
        Fault.FARM, "no `CAPSTAN_SECRET_KEY` of the worker opens the task's secrets"
    ),
    Code.SEGMENTS_LOST: _task(
        Fault.FARM,
        "a segment is not in this machine's intermediate storage (not shared between machines)",
    ),
}

HTTP_STATUS: dict[str, int] = {
    code: entry.http_status for code, entry in CATALOGUE.items() if entry.http_status
}


class CapstanError(Exception):
    code: Code = Code.INTERNAL_ERROR

    def __init__(self, message: str, code: Code | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 500)


class RequestError(CapstanError):
    """Answered at the edge, nothing was started."""


class InvalidParam(RequestError):
    code = Code.INVALID_PARAM


class AuthFailure(RequestError):
    code = Code.AUTH_FAILURE


class TaskNotFound(RequestError):
    code = Code.TASK_NOT_FOUND


class InvalidState(RequestError):
    code = Code.INVALID_STATE


class PayloadTooLarge(RequestError):
    code = Code.PAYLOAD_TOO_LARGE


class LimitExceeded(RequestError):
    code = Code.LIMIT_EXCEEDED


class ServiceUnavailable(CapstanError):
    code = Code.SERVICE_UNAVAILABLE


class TaskFailure(CapstanError):
    """A task ended badly. ``code`` becomes Result.ErrorCode."""

    retryable = False


class UserFault(TaskFailure):
    """The request made it fail (unreachable page, unreadable source, bad bucket)."""


class FarmFault(TaskFailure):
    """The farm made it fail (crash, full disk): worth retrying elsewhere."""

    retryable = True


# Control flow, not errors: they unwind a worker's task body and never reach a Result or an
# answer, so they stay outside CapstanError (an ``except CapstanError`` must not catch them).


class Fenced(Exception):
    """Another worker owns the task now (its epoch is newer): stop writing at once."""


class HandedBack(Exception):
    """The worker is draining: the task went back to the queue with the next epoch."""
