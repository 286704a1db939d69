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


class PoolCapacity(Answer):
    """One pool's slots and the tasks that want them (workers.common.domain.slots.Capacity)."""

    workers: int  # live workers (their slot advert has not expired)
    slots: int  # their task slots, summed
    busy: int  # tasks running
    free: int  # slots without a task
    queued: int  # tasks waiting in the queue
    active: int  # tasks admitted and not ended (queued or running)
    demand: int  # slots wanted now (= active): what KEDA scales on, per pod's slots
    autoscaled: int  # slots the autoscaler can bring the pool to, counted by admission
    ceiling: int  # the hard ceiling of active tasks; 0: none
    admissible: int | None = None  # Starts admitted now before LimitExceeded; absent: no limit
    warm: int | None = None  # ready warm slots (panorama); absent: no live worker keeps any


class Capacity(Answer):
    """GET /v1/ops/capacity: each pool's slots and demand."""

    pools: dict[str, PoolCapacity]


class Health(Answer):
    """/healthz, and /readyz when Redis answers."""

    ok: bool


class Error(Answer):
    ErrorCode: str
    ErrorMessage: str
    RequestID: str
