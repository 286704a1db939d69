"""Task states (the seeds' names) and which action is allowed in which state.

normal ──start──▶ recording|pushing ⇄ paused
   │                   │ Stop / max duration / idle / page stopRecord / error
   │ Stop              ▼
   ▼               transcode ─▶ upload ─▶ callback ─▶ finished
 canceled
"""

from __future__ import annotations

from enum import StrEnum


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

# Control actions: the states they are accepted in, and the state they lead to
# (None: the state is left to the worker, e.g. Refresh, or Stop of a live task).
CONTROL: dict[Action, tuple[frozenset[Status], Status | None]] = {
    Action.PAUSE: (CAPTURING, Status.PAUSED),
    Action.RESUME: (frozenset({Status.PAUSED}), None),
    Action.REFRESH: (LIVE, None),
    Action.STOP: (LIVE | {Status.NORMAL}, None),
}


def refusal(action: Action, status: Status, stop_requested: bool) -> str | None:
    """Why ``action`` cannot be applied now, or None when it can."""
    if action is Action.DESCRIBE:
        return None
    allowed, _ = CONTROL[action]
    if stop_requested and status not in TERMINAL:
        return f"{action} refused: a Stop was already requested (task is {status})"
    if status not in allowed:
        wanted = "|".join(sorted(allowed))
        return f"{action} refused: task is {status}, {action} needs {wanted}"
    return None
