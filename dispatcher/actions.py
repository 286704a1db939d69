"""What the action routes do: Start, the control actions, Describe. One function each."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from config.settings import Settings
from dispatcher.answers import Accepted, Capacity, PoolCapacity, TaskList
from dispatcher.urls import check_urls
from workers.common.domain import crypto, services
from workers.common.domain.describe import describe, task_view
from workers.common.domain.errors import CapstanError, ServiceUnavailable
from workers.common.domain.services import Service
from workers.common.domain.slots import Capacity as Load
from workers.common.domain.specs.base import split_secrets
from workers.common.domain.specs.control import TaskRef
from workers.common.domain.specs.fields import parse
from workers.common.domain.states import Action
from workers.common.domain.store import TaskStore, new_task_id
from workers.common.domain.wire import QueuedMessage

log = logging.getLogger("capstan.dispatcher")

# The Celery message of a new task (runtime.enqueue.StartMessages); None: the record alone.
StartMessage = Callable[[Service, str], QueuedMessage | None]


@dataclass(frozen=True)
class Farm:
    """What the dispatcher talks to; one per process, kept in app.extensions."""

    settings: Settings
    store: TaskStore
    message: StartMessage

    def run(
        self, service_name: str, action: Action, data: dict[str, Any], request_id: str
    ) -> dict[str, Any]:
        service = services.REGISTRY[service_name]
        if action is Action.START:
            return self.start(service, data, request_id)
        task_id = parse(TaskRef, data).TaskID
        if action is Action.DESCRIBE:
            return describe(self.store.get(task_id, service.name), request_id)
        self.store.control(task_id, service.name, action, service.capturing)
        return Accepted(TaskID=task_id, RequestID=request_id).dump()

    def start(self, service: Service, data: dict[str, Any], request_id: str) -> dict[str, Any]:
        spec = parse(service.spec_model, data)
        check_urls(spec, self.settings)
        public, secrets = split_secrets(spec)
        task_id = new_task_id()
        # The record and its queue message: one atomic call, both or neither.
        self.store.create(
            service.name,
            public,
            crypto.seal(secrets),
            request_id=request_id,
            max_active=self.settings.max_active_tasks.get(service.name, 0),
            autoscaled_slots=self.autoscaled_slots(service.name),
            unique_key=getattr(spec, "unique_key", None),
            task_id=task_id,
            message=self.message(service, task_id),
        )
        if self.settings.start_replicas:
            # 200 only once a replica holds the task: a failover now loses no accepted Start.
            try:
                self.store.confirm_replicated(
                    task_id, self.settings.start_replicas, self.settings.redis_replica_timeout_s
                )
            except ServiceUnavailable:
                self._withdraw(service, task_id)
                raise
        return Accepted(TaskID=task_id, RequestID=request_id).dump()

    def autoscaled_slots(self, service: str) -> int | None:
        """The slots the autoscaler can bring ``service`` to; None: slots are not counted."""
        if not self.settings.admission_counts_slots:
            return None
        return self.settings.admission_autoscaled_slots.get(service, 0)

    def _withdraw(self, service: Service, task_id: str) -> None:
        """A task no replica confirmed: cancel it so it holds no admission slot."""
        try:
            self.store.control(task_id, service.name, Action.STOP, service.capturing)
        except CapstanError:
            log.warning("could not cancel unqueued task %s", task_id)

    def task(self, task_id: str, request_id: str) -> dict[str, Any]:
        return describe(self.store.get(parse(TaskRef, {"TaskID": task_id}).TaskID), request_id)

    def tasks(
        self, service: str | None, status: str | None, limit: int, request_id: str
    ) -> dict[str, Any]:
        records = self.store.list_tasks(service, status, limit)
        return TaskList(Tasks=[task_view(r) for r in records], RequestID=request_id).dump()

    def capacity(self) -> dict[str, Any]:
        """Each pool's live slots and demand (the ops route; KEDA scales on ``demand``)."""
        pools = {name: _pool_capacity(self.pool_load(name)) for name in services.REGISTRY}
        return Capacity(pools=pools).dump()

    def pool_load(self, name: str) -> Load:
        active, queued, slots, workers, warm = self.store.load(
            name, services.REGISTRY[name].queue, self.settings.broker_db
        )
        autoscaled = self.autoscaled_slots(name)
        return Load(
            active=active,
            queued=queued,
            slots=slots,
            workers=workers,
            autoscaled=autoscaled or 0,
            ceiling=self.settings.max_active_tasks.get(name, 0),
            counts_slots=autoscaled is not None,
            warm=None if warm < 0 else warm,
        )


def _pool_capacity(load: Load) -> PoolCapacity:
    return PoolCapacity(
        workers=load.workers,
        slots=load.slots,
        busy=load.busy,
        free=load.free,
        queued=load.queued,
        active=load.active,
        demand=load.demand,
        autoscaled=load.autoscaled,
        ceiling=load.ceiling,
        admissible=load.admissible,
        warm=load.warm,
    )
