"""The task store in Redis db2: records, control lists, leases, segments, progress.

Keys (``{id}`` is the TaskID):
    capstan:task:{id}             hash: service status spec secrets epoch *_time result ...
    capstan:task:{id}:control     list of control commands (JSON), BLPOP'd by the worker
    capstan:task:{id}:lease       "<epoch>:<worker>" with a TTL, renewed by the owner
    capstan:task:{id}:segments    list of closed segments (JSON), appended with fencing
    capstan:task:{id}:progress    hash: live figures (recorded seconds, bytes, position)
    capstan:task:{id}:callbacks   list of callback attempts (JSON)
    capstan:tasks / capstan:tasks:{service}   zsets of TaskIDs by CreateTime
    capstan:active:{service}      set of tasks not yet terminal (admission limit)
    capstan:owned                 set of tasks a worker has claimed (reconciler)
    capstan:unique:{key}          TaskID holding a one-at-a-time key (recorder user)
    capstan:slots:{service}[:count]  the live workers' task slots (workers.common.domain.slots)

A Start's Celery message goes onto its queue's list in the broker's db by the same script
that writes the record (create; the message's bytes: workers.common.domain.wire).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

import redis

from workers.common.domain import slots
from workers.common.domain import store_scripts as lua
from workers.common.domain.errors import (
    InvalidState,
    LimitExceeded,
    ServiceUnavailable,
    TaskNotFound,
)
from workers.common.domain.states import OWNED, TERMINAL, Action, Status, refusal, target
from workers.common.domain.wire import QueuedMessage, queue_key

log = logging.getLogger(__name__)

PREFIX = "capstan"


def task_key(task_id: str) -> str:
    return f"{PREFIX}:task:{task_id}"


def sub_key(task_id: str, part: str) -> str:
    return f"{PREFIX}:task:{task_id}:{part}"


OWNED_SET = f"{PREFIX}:owned"
ALL_INDEX = f"{PREFIX}:tasks"

_TIMES = ("create_time", "start_time", "stop_time", "cancel_time", "finish_time")


# What the Lua scripts answered, decoded once, here (they answer words and numbers).


class Admission(StrEnum):
    ADMITTED = "ok"
    AT_LIMIT = "limit"  # the service runs its most tasks already (the hard ceiling)
    NO_SLOT = "slots"  # its active tasks fill the live slots (or those it can scale to)
    DUPLICATE = "dup"  # a live task holds the one-at-a-time key


class Write(StrEnum):
    """What a fenced write did."""

    OK = "ok"
    STALE = "stale"  # another worker (a newer epoch) owns the task: nothing written
    WRONG_STATE = "state"  # the task is in none of the expected states: nothing written


class Append(StrEnum):
    OK = "ok"  # appended (or a retried call had appended it already)
    STALE = "stale"  # another worker owns the task: nothing appended
    LOST = "lost"  # the store lost entries the worker listed: list them again


class NoEpoch(IntEnum):
    """bump_epoch when there is no next epoch to run the task with."""

    HELD = -1  # a worker holds the lease
    GONE = -2  # no record, or in no state a worker runs


def decode_admission(reply: str) -> tuple[Admission, str]:
    """The outcome of CREATE, and its detail: the TaskID holding the key when DUPLICATE, the
    live slots when NO_SLOT."""
    outcome, _, holder = reply.partition(":")
    return Admission(outcome), holder


def no_slot_message(service: str, live: int, autoscaled: int) -> str:
    """Why a Start found no slot, in the words an operator acts on."""
    if live == 0 and autoscaled == 0:
        return f"{service} has 0 live slots: no {service} worker is running; retry later"
    if autoscaled > live:
        reach = f"the {autoscaled} slots its autoscaler can reach ({live} live)"
        return f"{service} tasks fill {reach}; retry later"
    return f"{service} tasks fill its {live} live slots; retry later"


def decode_write(reply: str) -> Write:
    return Write(reply.partition(":")[0])  # 'state:<status>'


def decode_append(reply: list[Any]) -> tuple[Append, int]:
    """The outcome of FENCED_APPEND, and how many entries were stored before."""
    outcome, have = reply
    return Append(outcome), int(have)


def decode_pushed(reply: int) -> bool:
    return int(reply) > 0  # -1: stale


def decode_epoch(reply: int) -> int:
    """The next epoch, or a NoEpoch (negative)."""
    return NoEpoch(reply) if int(reply) < 0 else int(reply)


@dataclass
class TaskRecord:
    task_id: str
    service: str
    status: Status
    spec: dict[str, Any]
    secrets: str = ""
    epoch: int = 1
    stop_requested: bool = False
    times: dict[str, int] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    request_id: str = ""
    progress: dict[str, str] = field(default_factory=dict)
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    capture_since: float = 0.0  # unix time capture last started or resumed (takeover figures)

    @classmethod
    def from_hash(cls, task_id: str, data: dict[str, str]) -> TaskRecord:
        return cls(
            task_id=task_id,
            service=data["service"],
            status=Status(data["status"]),
            spec=json.loads(data.get("spec") or "{}"),
            secrets=data.get("secrets", ""),
            epoch=int(data.get("epoch") or 1),
            stop_requested=data.get("stop_requested") == "1",
            times={k: int(data[k]) for k in _TIMES if data.get(k)},
            result=json.loads(data.get("result") or "{}"),
            request_id=data.get("request_id", ""),
            capture_since=float(data.get("capture_since") or 0),
        )


@dataclass(frozen=True)
class Command:
    action: Action
    time: float


def now_s() -> int:
    return int(time.time())


def new_task_id() -> str:
    return str(uuid.uuid4())


class TaskStore:
    def __init__(self, client: redis.Redis) -> None:
        self.r = client
        self._create = client.register_script(lua.CREATE)
        self._read = client.register_script(lua.READ)
        self._fenced_hset = client.register_script(lua.FENCED_HSET)
        self._fenced_rpush = client.register_script(lua.FENCED_RPUSH)
        self._fenced_append = client.register_script(lua.FENCED_APPEND)
        self._lease_take = client.register_script(lua.LEASE_TAKE)
        self._lease_renew = client.register_script(lua.LEASE_RENEW)
        self._lease_drop = client.register_script(lua.LEASE_DROP)
        self._bump_epoch = client.register_script(lua.BUMP_EPOCH)
        self._capacity = client.register_script(lua.CAPACITY)

    @property
    def db(self) -> int:
        """The db of the records (CREATE comes back to it after pushing in the broker's)."""
        return int(self.r.connection_pool.connection_kwargs.get("db") or 0)

    # ---- the dispatcher's side -------------------------------------------------------

    def create(
        self,
        service: str,
        spec: dict[str, Any],
        sealed_secrets: str,
        *,
        request_id: str,
        max_active: int = 0,
        autoscaled_slots: int | None = None,
        unique_key: str | None = None,
        task_id: str | None = None,
        message: QueuedMessage | None = None,
    ) -> str:
        """Admit and write a new task and, when given, push its queue ``message`` (built for
        ``task_id``): one atomic script, so that there is no record without its message and
        no message without its record.

        Admitted while the service's active tasks are fewer than its live workers' slots or
        ``autoscaled_slots`` (those its autoscaler can bring it to), whichever is more (None:
        slots not counted), and than ``max_active`` when > 0 (a hard ceiling)."""
        task_id = task_id or new_task_id()
        now = now_s()
        fields = {
            "service": service,
            "status": Status.NORMAL.value,
            "spec": json.dumps(spec, separators=(",", ":")),
            "secrets": sealed_secrets,
            "epoch": "1",
            "create_time": str(now),
            "request_id": request_id,
            "unique_key": unique_key or "",
        }
        flat = [item for pair in fields.items() for item in pair]
        keys = [
            task_key(task_id),
            ALL_INDEX,
            f"{PREFIX}:tasks:{service}",
            f"{PREFIX}:active:{service}",
            f"{PREFIX}:unique:{unique_key or '-'}",
            message.key if message else f"{PREFIX}:no-queue",
            slots.live_key(service),
            slots.count_key(service),
        ]
        # Listed newest first to the millisecond: two Starts in one second keep their order.
        listed_at = f"{time.time():.3f}"
        unique = "1" if unique_key else "0"
        queued = [message.db, message.payload] if message else [0, ""]
        autoscaled = -1 if autoscaled_slots is None else autoscaled_slots
        argv = [task_id, listed_at, max_active, unique, _states(TERMINAL), *queued, self.db]
        argv += [autoscaled, *flat]
        outcome, detail = decode_admission(self._call(self._create, keys, argv))
        if outcome is Admission.AT_LIMIT:
            raise LimitExceeded(
                f"{service} already runs {max_active} tasks, the farm's limit; retry later"
            )
        if outcome is Admission.NO_SLOT:
            raise LimitExceeded(no_slot_message(service, int(detail), autoscaled))
        if outcome is Admission.DUPLICATE:
            raise InvalidState(
                f"this user already has a running {service} task in this room, {detail}; "
                "Stop it first"
            )
        return task_id

    def confirm_replicated(self, task_id: str, replicas: int, timeout_s: float) -> None:
        """Return once ``replicas`` replicas hold the new task (its record and, sent before
        this call, its queue message); ServiceUnavailable if they do not in time.

        Redis replicates asynchronously: without this, a master that dies right after
        answering takes an accepted Start with it. One connection, no retry: a retry
        could reach a new master, whose WAIT says nothing of what the old one took.
        """
        pool = self.r.connection_pool
        try:
            conn = pool.get_connection()  # with Sentinel: connects to the current master
        except redis.RedisError as exc:
            raise ServiceUnavailable(f"task store unreachable: {exc}") from exc
        try:
            conn.send_command("EVAL", lua.MARK_QUEUED, 1, task_key(task_id), str(now_s()))
            kept = conn.read_response()
            conn.send_command("WAIT", replicas, int(timeout_s * 1000))
            acked = int(conn.read_response())
        except redis.RedisError as exc:
            conn.disconnect()
            raise ServiceUnavailable(f"task store unreachable: {exc}") from exc
        finally:
            pool.release(conn)
        if not kept:
            raise ServiceUnavailable("the task store lost the new task (failover); retry")
        if acked < replicas:
            raise ServiceUnavailable(
                f"the task store's replicas did not confirm the new task within "
                f"{timeout_s:g}s ({acked} of {replicas}); retry"
            )

    def get(self, task_id: str, service: str | None = None) -> TaskRecord:
        """The record with its live figures, in one round trip."""
        keys = [task_key(task_id), sub_key(task_id, "progress"), sub_key(task_id, "callbacks")]
        fields, progress, callbacks = self._call(self._read, keys, [])
        data = _hash(fields)
        if not data or (service is not None and data.get("service") != service):
            raise TaskNotFound(
                f"TaskID {task_id} not found" + (f" in {service}" if service else "")
            )
        record = TaskRecord.from_hash(task_id, data)
        record.progress = _hash(progress)
        record.callbacks = [json.loads(item) for item in callbacks]
        return record

    def control(self, task_id: str, service: str, action: Action, capturing: Status) -> TaskRecord:
        """Check the state table, apply its move, post the command: atomically."""
        key = task_key(task_id)

        def apply(pipe: redis.client.Pipeline) -> None:
            data: dict[str, str] = pipe.hgetall(key)  # type: ignore[assignment]
            if not data or data.get("service") != service:
                raise TaskNotFound(f"TaskID {task_id} not found in {service}")
            status = Status(data["status"])
            why = refusal(action, status, data.get("stop_requested") == "1")
            if why:
                raise InvalidState(why)
            moved = target(action, status, capturing)
            fields: dict[str | bytes, str] = {} if moved is None else {"status": moved.value}
            if action is Action.STOP:
                fields["cancel_time"] = str(now_s())
                if moved is None:  # live: the worker ends it with its recording
                    fields["stop_requested"] = "1"
            pipe.multi()
            if fields:
                pipe.hset(key, mapping=fields)  # type: ignore[arg-type]
            if moved in TERMINAL:
                # A worker that holds it (e.g. waiting for ManualStart) sees the command
                # and the state.
                self._retire(pipe, task_id, service, data.get("unique_key", ""))
            command = json.dumps({"action": action.value, "time": time.time()})
            pipe.rpush(sub_key(task_id, "control"), command)

        try:
            self.r.transaction(apply, key)
        except redis.RedisError as exc:
            raise ServiceUnavailable(f"task store unreachable: {exc}") from exc
        return self.get(task_id)

    def list_tasks(
        self, service: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[TaskRecord]:
        index = f"{PREFIX}:tasks:{service}" if service else ALL_INDEX
        # Read a wider window when filtering by status, newest first.
        window = limit if status is None else max(limit * 10, 1000)
        ids = self._run_one(lambda: self.r.zrevrange(index, 0, window - 1))
        pipe = self.r.pipeline(transaction=False)
        for task_id in ids:
            pipe.hgetall(task_key(task_id))
        records = []
        for task_id, data in zip(ids, self._run(pipe), strict=True):
            if data and (status is None or data.get("status") == status):
                records.append(TaskRecord.from_hash(task_id, data))
            if len(records) >= limit:
                break
        return records

    # ---- the worker's side (every write fenced by epoch) -----------------------------

    def take_lease(self, task_id: str, epoch: int, holder: str, ttl_s: float) -> bool:
        keys = [sub_key(task_id, "lease"), task_key(task_id), OWNED_SET]
        argv = [str(epoch), f"{epoch}:{holder}", int(ttl_s * 1000), task_id]
        return bool(self._call(self._lease_take, keys, argv))

    def renew_lease(self, task_id: str, epoch: int, holder: str, ttl_s: float) -> bool:
        argv = [f"{epoch}:{holder}", int(ttl_s * 1000)]
        return bool(self._call(self._lease_renew, [sub_key(task_id, "lease")], argv))

    def drop_lease(self, task_id: str, epoch: int, holder: str) -> None:
        self._call(self._lease_drop, [sub_key(task_id, "lease")], [f"{epoch}:{holder}"])

    def bump_epoch(self, task_id: str) -> int:
        """The next epoch for a task no worker holds (reconciler, hand-over), or a NoEpoch."""
        keys = [sub_key(task_id, "lease"), task_key(task_id)]
        return decode_epoch(self._call(self._bump_epoch, keys, [_states(OWNED | {Status.NORMAL})]))

    def unstarted(self, service: str, before: float) -> list[tuple[str, bool]]:
        """Tasks of ``service`` no worker ever claimed, still waiting to start, queued (or
        queued again) before the unix time ``before``; and whether a replica confirmed each
        (confirm_replicated: Start answered 200 then)."""
        active = self._run_one(lambda: self.r.smembers(f"{PREFIX}:active:{service}"))
        candidates = sorted(set(active) - set(self.owned_tasks()))
        pipe = self.r.pipeline(transaction=False)
        for task_id in candidates:
            pipe.hmget(task_key(task_id), "status", "create_time", "requeue_time", "queued")
        found = []
        for task_id, fields in zip(candidates, self._run(pipe), strict=True):
            status, created, requeued, confirmed = fields
            queued = max(float(created or 0), float(requeued or 0))
            if status == Status.NORMAL.value and queued < before:
                found.append((task_id, bool(confirmed)))
        return found

    def mark_requeued(self, task_id: str) -> None:
        self._run_one(lambda: self.r.hset(task_key(task_id), "requeue_time", str(time.time())))

    def owned_tasks(self) -> list[str]:
        return sorted(self._run_one(lambda: self.r.smembers(OWNED_SET)))

    def forget_owned(self, task_id: str) -> None:
        self._run_one(lambda: self.r.srem(OWNED_SET, task_id))

    def advance(
        self,
        task_id: str,
        epoch: int,
        *,
        expect: frozenset[Status] | None = None,
        status: Status | None = None,
        **fields: Any,
    ) -> Write:
        """Fenced HSET; only if the task is in one of ``expect`` (when given)."""
        mapping = {k: _encode(v) for k, v in fields.items()}
        if status is not None:
            mapping["status"] = status.value
        flat = [item for pair in mapping.items() for item in pair]
        allowed = _states(expect) if expect else ""
        return decode_write(
            self._call(self._fenced_hset, [task_key(task_id)], [str(epoch), allowed, *flat])
        )

    def add_segment(
        self,
        task_id: str,
        epoch: int,
        segment: dict[str, Any],
        listed: Sequence[dict[str, Any]] | None = None,
    ) -> bool:
        """Fenced append; False if another epoch owns the task. ``listed``: what the caller
        knows precedes ``segment`` in the list; entries the store lost are listed again."""
        keys = [task_key(task_id), sub_key(task_id, "segments")]
        if listed is None:
            argv = [str(epoch), _compact(segment)]
            return decode_pushed(self._call(self._fenced_rpush, keys, argv))
        known, entries = len(listed), [segment]
        for _ in range(3):
            argv = [str(epoch), str(known), *(_compact(entry) for entry in entries)]
            outcome, have = decode_append(self._call(self._fenced_append, keys, argv))
            if outcome is not Append.LOST:
                return outcome is Append.OK
            log.warning(
                "task %s: the task store lost %d listed segment(s) (a Redis failover or "
                "restart); listing them again",
                task_id,
                known - have,
            )
            known, entries = have, [*listed[have:], segment]
        raise ServiceUnavailable(f"task {task_id}: the segment list keeps changing; retry")

    def segments(self, task_id: str) -> list[dict[str, Any]]:
        items = self._run_one(lambda: self.r.lrange(sub_key(task_id, "segments"), 0, -1))
        return [json.loads(item) for item in items]

    def next_command(self, task_id: str, timeout_s: float) -> Command | None:
        popped = self._run_one(lambda: self.r.blpop([sub_key(task_id, "control")], timeout_s))
        if not popped:
            return None
        body = json.loads(popped[1])
        return Command(Action(body["action"]), float(body["time"]))

    def status_of(self, task_id: str) -> tuple[Status, bool]:
        data = self._run_one(lambda: self.r.hmget(task_key(task_id), "status", "stop_requested"))
        return Status(data[0]), data[1] == "1"

    def set_progress(self, task_id: str, **figures: Any) -> None:
        mapping: dict[str | bytes, str] = {k: _encode(v) for k, v in figures.items()}
        self._run_one(lambda: self.r.hset(sub_key(task_id, "progress"), mapping=mapping))  # type: ignore[arg-type]

    def add_callback_attempt(self, task_id: str, attempt: dict[str, Any]) -> None:
        self._run_one(lambda: self.r.rpush(sub_key(task_id, "callbacks"), json.dumps(attempt)))

    def retire(self, task_id: str, service: str, ttl_s: int) -> None:
        """The task is terminal: free its admission slot and unique key, let it expire."""
        unique = self._run_one(lambda: self.r.hget(task_key(task_id), "unique_key")) or ""
        pipe = self.r.pipeline(transaction=True)
        self._retire(pipe, task_id, service, unique)
        pipe.srem(OWNED_SET, task_id)
        for part in ("", ":control", ":lease", ":segments", ":progress", ":callbacks"):
            pipe.expire(task_key(task_id) + part, ttl_s)
        self._run(pipe)

    @staticmethod
    def _retire(pipe: redis.client.Pipeline, task_id: str, service: str, unique: str) -> None:
        pipe.srem(f"{PREFIX}:active:{service}", task_id)
        if unique:
            # Only if it is still ours: a newer task may hold the key already.
            pipe.eval(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end",
                1,
                f"{PREFIX}:unique:{unique}",
                task_id,
            )

    # ---- operations ------------------------------------------------------------------

    def load(self, service: str, queue: str, broker_db: int) -> tuple[int, ...]:
        """The service's active tasks, those still in its ``queue``, its live slots, live
        workers and their warm slots (-1: none keeps any), read at one instant
        (workers.common.domain.slots.Capacity adds the rest)."""
        keys = [
            f"{PREFIX}:active:{service}",
            slots.live_key(service),
            slots.count_key(service),
            slots.warm_key(service),
            queue_key(queue),
        ]
        return tuple(int(n) for n in self._call(self._capacity, keys, [broker_db]))

    # ---- plumbing --------------------------------------------------------------------

    def ping(self) -> bool:
        try:
            return bool(self.r.ping())
        except redis.RedisError:
            return False

    @staticmethod
    def _call(script: Any, keys: list[str], argv: list[Any]) -> Any:
        try:
            return script(keys=keys, args=argv)
        except redis.ResponseError as exc:  # it answered: no (out of memory, a bad key...)
            raise ServiceUnavailable(f"the task store refused: {exc}") from exc
        except redis.RedisError as exc:
            raise ServiceUnavailable(f"task store unreachable: {exc}") from exc

    @staticmethod
    def _run(pipe: redis.client.Pipeline) -> list[Any]:
        try:
            return list(pipe.execute())
        except redis.RedisError as exc:
            raise ServiceUnavailable(f"task store unreachable: {exc}") from exc

    @staticmethod
    def _run_one(call: Any) -> Any:
        try:
            return call()
        except redis.RedisError as exc:
            raise ServiceUnavailable(f"task store unreachable: {exc}") from exc


def _hash(flat: list[str]) -> dict[str, str]:
    """A hash as a script returns it (field, value, field, value...) as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _states(states: frozenset[Status]) -> str:
    """A set of states as the Lua scripts take it: comma-separated."""
    return ",".join(sorted(state.value for state in states))


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _encode(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def default_store(retries: int | None = None) -> TaskStore:
    """The farm's store; ``retries``: how long a call may ride out an outage (see
    redis_client: workers patient, the dispatcher quick)."""
    from workers.common.domain.redis_client import PATIENT_RETRIES, store_redis

    return TaskStore(store_redis(PATIENT_RETRIES if retries is None else retries))
