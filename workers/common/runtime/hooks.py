"""Worker-wide hooks on Celery signals: cross-cutting concerns live here, not in tasks.

- the liveness heartbeat file the pod's probe reads (workers/common/runtime/probe.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery.signals import celeryd_after_setup, heartbeat_sent

from workers.common.runtime.probe import heartbeat_path, touch_heartbeat

_heartbeat: list[Path] = []


@celeryd_after_setup.connect
def _remember_pool(sender: str, **_: Any) -> None:
    # Node names are "<pool>@<host>" (deploy/local/stack.py, the Helm chart).
    pool = sender.split("@", 1)[0]
    _heartbeat[:] = [heartbeat_path(pool)]
    touch_heartbeat(_heartbeat[0])


@heartbeat_sent.connect
def _beat(**_: Any) -> None:
    if _heartbeat:
        touch_heartbeat(_heartbeat[0])
