"""The one home of a service's facts: its name (queue), Start model, task name, actions,
what Describe says while it captures, and whether its Start may come without the envelope.

The dispatcher's routes and OpenAPI, the pools' Celery task names and the workers' runtime
derive theirs from REGISTRY. config.settings.SERVICES, the CLI and each pool's Session name
the same pools or models without importing this registry; tests/unit/test_services.py keeps
them equal.
"""

from __future__ import annotations

from dataclasses import dataclass

from workers.common.domain.specs.base import Spec
from workers.common.domain.specs.panorama import PanoramaStart
from workers.common.domain.specs.pusher import PusherStart
from workers.common.domain.specs.recorder import RecorderStart
from workers.common.domain.states import Action, Status

_COMMON = frozenset({Action.START, Action.PAUSE, Action.RESUME, Action.STOP, Action.DESCRIBE})


@dataclass(frozen=True)
class Service:
    name: str
    spec_model: type[Spec]  # the Start model: validated at the edge, rebuilt by the worker
    capturing: Status  # what Describe says while media flows
    actions: frozenset[Action]
    # The seeds' recorder and pusher take Start's fields at the top level, without
    # {"Action", "Data"}; a body without "Action" is then a Start.
    flat_start: bool = False

    @property
    def queue(self) -> str:
        return self.name

    @property
    def task_name(self) -> str:
        return f"capstan.{self.name}.run"


RECORDER = Service("recorder", RecorderStart, Status.RECORDING, _COMMON, flat_start=True)
PUSHER = Service("pusher", PusherStart, Status.PUSHING, _COMMON, flat_start=True)
PANORAMA = Service("panorama", PanoramaStart, Status.RECORDING, _COMMON | {Action.REFRESH})

REGISTRY: dict[str, Service] = {s.name: s for s in (RECORDER, PUSHER, PANORAMA)}


def get_service(name: str) -> Service:
    return REGISTRY[name]
