"""One exception tree, one table from error code to HTTP status.

    CapstanError                     code, message; .http_status from HTTP_STATUS
    ├── RequestError                 the client's fault, answered at the edge
    │   ├── InvalidParam        400  a field is missing, ill-typed or out of range
    │   ├── AuthFailure         401  missing or bad signature
    │   ├── TaskNotFound        404  unknown TaskID, or one of another service
    │   ├── InvalidState        409  the action makes no sense in the task's state
    │   └── LimitExceeded       429  the service's admission limit is reached
    ├── ServiceUnavailable      503  Redis (or another part of the farm) unreachable
    └── TaskFailure                  a task ended badly; lands in Describe's Result
        ├── UserFault                caused by the request: bad page, bad source, bad bucket
        └── FarmFault                ours: a crash, a full disk, a bug

TaskFailure codes (Result.ErrorCode) are free-form strings such as
PageLoadFailed, SourceUnavailable, UploadFailed, CallbackFailed.
"""

from __future__ import annotations

HTTP_STATUS: dict[str, int] = {
    "InvalidParam": 400,
    "AuthFailure": 401,
    "TaskNotFound": 404,
    "InvalidState": 409,
    "PayloadTooLarge": 413,
    "LimitExceeded": 429,
    "InternalError": 500,
    "ServiceUnavailable": 503,
}


class CapstanError(Exception):
    code = "InternalError"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 500)


class RequestError(CapstanError):
    """The client's fault: answered at the edge, nothing was started."""


class InvalidParam(RequestError):
    code = "InvalidParam"


class AuthFailure(RequestError):
    code = "AuthFailure"


class TaskNotFound(RequestError):
    code = "TaskNotFound"


class InvalidState(RequestError):
    code = "InvalidState"


class PayloadTooLarge(RequestError):
    code = "PayloadTooLarge"


class LimitExceeded(RequestError):
    code = "LimitExceeded"


class ServiceUnavailable(CapstanError):
    code = "ServiceUnavailable"


class TaskFailure(CapstanError):
    """A task ended badly. ``code`` becomes Result.ErrorCode."""

    retryable = False


class UserFault(TaskFailure):
    """The request made it fail (unreachable page, unreadable source, bad bucket)."""


class FarmFault(TaskFailure):
    """The farm made it fail (crash, full disk): worth retrying elsewhere."""

    retryable = True
