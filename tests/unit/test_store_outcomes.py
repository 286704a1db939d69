"""The task store without Redis: what its Lua answers means (decoded in one place), and what
a control action writes (the state table's move, the Stop's bookkeeping, the command)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from workers.common.domain import store, store_scripts
from workers.common.domain.errors import InvalidState, TaskNotFound
from workers.common.domain.states import Action, Status
from workers.common.domain.store import (
    Admission,
    Append,
    NoEpoch,
    TaskStore,
    Write,
    decode_admission,
    decode_append,
    decode_epoch,
    decode_pushed,
    decode_write,
)

# ---- the Lua's answers ---------------------------------------------------------------------


def test_create_answers():
    assert decode_admission("ok") == (Admission.ADMITTED, "")
    assert decode_admission("limit") == (Admission.AT_LIMIT, "")
    assert decode_admission("dup:0b7f-task") == (Admission.DUPLICATE, "0b7f-task")
    assert decode_admission("slots:4") == (Admission.NO_SLOT, "4")


def test_fenced_write_answers():
    assert decode_write("ok") is Write.OK
    assert decode_write("stale") is Write.STALE
    assert decode_write("state:canceled") is Write.WRONG_STATE
    assert decode_write("ok") == "ok"  # still its wire word


def test_fenced_append_answers():
    assert decode_append(["ok", 3]) == (Append.OK, 3)
    assert decode_append(["stale", 0]) == (Append.STALE, 0)
    assert decode_append(["lost", 1]) == (Append.LOST, 1)


def test_fenced_push_answers():
    assert decode_pushed(4) is True
    assert decode_pushed(-1) is False


def test_bump_epoch_answers():
    assert decode_epoch(3) == 3
    assert decode_epoch(-1) is NoEpoch.HELD
    assert decode_epoch(-2) is NoEpoch.GONE
    assert NoEpoch.GONE == -2 and not NoEpoch.HELD > 0


@pytest.mark.parametrize(
    ("script", "outcomes"),
    [
        (store_scripts.CREATE, Admission),
        (store_scripts.FENCED_HSET, Write),
        (store_scripts.FENCED_APPEND, Append),
    ],
    ids=["create", "fenced_hset", "fenced_append"],
)
def test_every_word_a_script_answers_is_an_outcome(script, outcomes):
    words = set(re.findall(r"return \{?'(\w+)", script))
    assert words, "no answer found in the script"
    assert words == {outcome.value for outcome in outcomes}


# ---- control: the state table's move, then the command -----------------------------------


class FakePipeline:
    def __init__(self, record: dict[str, str]) -> None:
        self.record = record
        self.writes: list[tuple[Any, ...]] = []

    def hgetall(self, key: str) -> dict[str, str]:
        return dict(self.record)

    def multi(self) -> None:
        pass

    def hset(self, key: str, *pair: str, mapping: dict[str, str] | None = None) -> None:
        self.writes.append(("hset", mapping or dict([pair])))

    def rpush(self, key: str, value: str) -> None:
        self.writes.append(("command", json.loads(value)["action"]))

    def srem(self, key: str, member: str) -> None:
        self.writes.append(("srem", key))

    def eval(self, script: str, count: int, key: str, *args: str) -> None:
        self.writes.append(("free unique key", key))


class FakeRedis:
    def __init__(self, record: dict[str, str]) -> None:
        self.pipeline = FakePipeline(record)

    def register_script(self, text: str) -> None:
        return None

    def transaction(self, apply: Any, *keys: str) -> None:
        apply(self.pipeline)


def control(monkeypatch, status: Status, action: Action, capturing=Status.RECORDING, **record):
    """The writes of ``action`` on a recorder task in ``status``."""
    monkeypatch.setattr(store, "now_s", lambda: 1700000000)
    redis = FakeRedis({"service": "recorder", "status": status.value, **record})
    task_store = TaskStore(redis)  # type: ignore[arg-type]
    monkeypatch.setattr(task_store, "get", lambda task_id, service=None: None)
    task_store.control("t1", "recorder", action, capturing)
    return redis.pipeline.writes


def test_pause_moves_a_recording_task_to_paused(monkeypatch):
    assert control(monkeypatch, Status.RECORDING, Action.PAUSE) == [
        ("hset", {"status": "paused"}),
        ("command", "Pause"),
    ]


def test_resume_moves_a_paused_task_back_to_its_service_capturing_state(monkeypatch):
    writes = control(monkeypatch, Status.PAUSED, Action.RESUME, capturing=Status.PUSHING)
    assert writes == [("hset", {"status": "pushing"}), ("command", "Resume")]


def test_stop_of_a_live_task_asks_the_worker_to_end_it(monkeypatch):
    assert control(monkeypatch, Status.RECORDING, Action.STOP) == [
        ("hset", {"cancel_time": "1700000000", "stop_requested": "1"}),
        ("command", "Stop"),
    ]


def test_stop_of_a_task_not_started_cancels_it_and_frees_its_slot_and_key(monkeypatch):
    writes = control(monkeypatch, Status.NORMAL, Action.STOP, unique_key="room:user")
    assert writes == [
        ("hset", {"status": "canceled", "cancel_time": "1700000000"}),
        ("srem", "capstan:active:recorder"),
        ("free unique key", "capstan:unique:room:user"),
        ("command", "Stop"),
    ]


def test_refresh_only_posts_the_command(monkeypatch):
    assert control(monkeypatch, Status.RECORDING, Action.REFRESH) == [("command", "Refresh")]


def test_a_refused_action_writes_nothing(monkeypatch):
    with pytest.raises(InvalidState):
        control(monkeypatch, Status.FINISHED, Action.STOP)
    with pytest.raises(InvalidState):
        control(monkeypatch, Status.RECORDING, Action.PAUSE, stop_requested="1")


def test_a_task_of_another_service_is_not_found(monkeypatch):
    monkeypatch.setattr(store, "now_s", lambda: 0)
    task_store = TaskStore(FakeRedis({"service": "pusher", "status": "pushing"}))  # type: ignore[arg-type]
    with pytest.raises(TaskNotFound):
        task_store.control("t1", "recorder", Action.STOP, Status.PUSHING)
