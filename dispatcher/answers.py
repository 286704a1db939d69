"""The dispatcher's answer bodies as models; dispatcher/openapi.py generates their schemas.

Describe's Task is the domain's (workers/common/domain/describe.py); these are the answers around
it. The error body is written by dispatcher/responses.py; the fuzz tests hold every error
answer to Error's schema.
"""

from __future__ import annotations

from workers.common.domain.describe import Answer, Task


class Accepted(Answer):
    """Start and the control actions: the task they are about."""

    TaskID: str
    RequestID: str


class TaskList(Answer):
    Tasks: list[Task]
    RequestID: str


class Health(Answer):
    """/healthz, and /readyz when Redis answers."""

    ok: bool


class Error(Answer):
    ErrorCode: str
    ErrorMessage: str
    RequestID: str
