"""Task states (the seeds' names) and which action is allowed in which state.

normal ──start──▶ recording|pushing ⇄ paused
   │                   │ Stop / max duration / idle / page stopRecord / error
   │ Stop              ▼
   ▼               transcode ─▶ upload ─▶ callback ─▶ finished
 canceled
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum


class Status(StrEnum):
    NORMAL = "normal"
    RECORDING = "recording"
    PUSHING = "pushing"
    PAUSED = "paused"
    CANCELED = "canceled"
    TRANSCODE = "transcode"
    UPLOAD = "upload"
    CALLBACK = "callback"
    FINISHED = "finished"


class Action(StrEnum):
    START = "Start"
    PAUSE = "Pause"
    RESUME = "Resume"
    REFRESH = "Refresh"
    STOP = "Stop"
    DESCRIBE = "Describe"


CAPTURING = frozenset({Status.RECORDING, Status.PUSHING})
LIVE = CAPTURING | {Status.PAUSED}
FINALIZING = frozenset({Status.TRANSCODE, Status.UPLOAD, Status.CALLBACK})
TERMINAL = frozenset({Status.CANCELED, Status.FINISHED})
# A worker owns the task in these states; the reconciler watches them.
OWNED = LIVE | FINALIZING


class ServiceState(Enum):
    """A target state that depends on the service."""

    CAPTURING = "recording or pushing"


@dataclass(frozen=True)
class Control:
    """A control action: the states it is accepted in, and where it moves the task at
    once (from a state to a state). A state not in ``moves`` is left to the worker, e.g.
    Refresh, or Stop of a live task, which the worker ends with its recording."""

    accepted: frozenset[Status]
    moves: Mapping[Status, Status | ServiceState] = field(default_factory=dict)


CONTROL: dict[Action, Control] = {
    Action.PAUSE: Control(CAPTURING, {state: Status.PAUSED for state in CAPTURING}),
    Action.RESUME: Control(frozenset({Status.PAUSED}), {Status.PAUSED: ServiceState.CAPTURING}),
    Action.REFRESH: Control(LIVE),
    # Not started: nothing to record, it ends here.
    Action.STOP: Control(LIVE | {Status.NORMAL}, {Status.NORMAL: Status.CANCELED}),
}


def target(action: Action, status: Status, capturing: Status) -> Status | None:
    """The state ``action`` moves a task in ``status`` to at once, or None: unchanged.
    ``capturing``: the service's capturing state, where Resume goes back to."""
    moved = CONTROL[action].moves.get(status) if action in CONTROL else None
    return capturing if moved is ServiceState.CAPTURING else moved


def refusal(action: Action, status: Status, stop_requested: bool) -> str | None:
    """Why ``action`` cannot be applied now, or None when it can."""
    if action is Action.DESCRIBE:
        return None
    allowed = CONTROL[action].accepted
    if stop_requested and status not in TERMINAL:
        return f"{action} refused: a Stop was already requested (task is {status})"
    if status not in allowed:
        wanted = "|".join(sorted(allowed))
        return f"{action} refused: task is {status}, {action} needs {wanted}"
    return None
