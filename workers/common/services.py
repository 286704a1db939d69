"""The three services: their queue, actions, running state, Start model and Celery task."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

from config.settings import SERVICES
from workers.common.states import Action, Status

if TYPE_CHECKING:
    from workers.common.specs.base import Spec

_COMMON = frozenset({Action.START, Action.PAUSE, Action.RESUME, Action.STOP, Action.DESCRIBE})


@dataclass(frozen=True)
class Service:
    name: str
    capturing: Status  # what Describe says while media flows
    actions: frozenset[Action]
    spec_path: str  # "module:Class" of the Start model
    # False until the pool's media pipeline exists: Start answers ServiceUnavailable
    # instead of queueing work that nothing will do.
    available: bool

    @property
    def queue(self) -> str:
        return self.name

    @property
    def task_name(self) -> str:
        return f"capstan.{self.name}.run"

    def spec_model(self) -> type[Spec]:
        module, _, cls = self.spec_path.partition(":")
        model: type[Spec] = getattr(import_module(module), cls)
        return model


REGISTRY: dict[str, Service] = {
    "panorama": Service(
        "panorama",
        Status.RECORDING,
        _COMMON | {Action.REFRESH},
        "workers.common.specs.panorama:PanoramaStart",
        available=True,
    ),
    "recorder": Service(
        "recorder",
        Status.RECORDING,
        _COMMON,
        "workers.common.specs.recorder:RecorderStart",
        available=True,
    ),
    "pusher": Service(
        "pusher",
        Status.PUSHING,
        _COMMON,
        "workers.common.specs.pusher:PusherStart",
        available=True,
    ),
}
assert tuple(sorted(REGISTRY)) == tuple(sorted(SERVICES))


def get_service(name: str) -> Service:
    return REGISTRY[name]
