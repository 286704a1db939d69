"""A Start is one atomic Redis call: the record and its Celery message, both or neither.

Against the real Redis and a real pusher worker: the message a Start pushes is the one
Celery itself would publish, a worker of the pool runs it, and a Start the store refuses
(wrong-typed key, out of memory, at the admission limit) leaves no record and no message.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from config.celery import celery_app
from tests.support.api import Pool
from tests.support.pusher_helpers import PusherApi, pusher_request, stream_name, timecode_video
from tests.support.tools import require
from workers.common.domain.services import REGISTRY
from workers.common.domain.states import Status
from workers.common.domain.store import default_store
from workers.common.runtime.enqueue import Enqueuer

pytestmark = pytest.mark.integration

POOL = Pool(PusherApi, concurrency=1)
QUEUE = REGISTRY["pusher"].queue
CLIP_S = 4


@pytest.fixture
def farm_env(rtmp_server):
    return {}


@pytest.fixture
def clip(static_server, tmp_path):
    """A short H.264/AAC file on a web server."""
    require("ffmpeg")
    timecode_video(tmp_path / "clip.mp4", CLIP_S)
    return static_server(tmp_path).url_for("clip.mp4")


def queued(redis_server) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in redis_server.client(0).lrange(QUEUE, 0, -1)]


def records(redis_server) -> list[str]:
    return sorted(redis_server.client(2).scan_iter("capstan:task:*"))


class Monitor:
    """The commands Redis receives from clients (not those a script runs), via MONITOR."""

    END = "capstan-monitor-end"

    def __init__(self, redis_server) -> None:
        self._ender = redis_server.client(0)
        self._ender.ping()  # connected before: its handshake is not seen
        self.commands: list[str] = []
        self._conn = redis_server.client(0)
        self._monitor = self._conn.monitor().__enter__()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            seen = self._monitor.next_command()
            if self.END in seen["command"]:
                return
            if seen.get("client_type") != "lua":
                self.commands.append(seen["command"].split()[0].upper())

    def stop(self) -> list[str]:
        self._ender.echo(self.END)
        self._thread.join(10)
        self._monitor.__exit__(None, None, None)
        self._conn.close()
        self._ender.close()
        return [c for c in self.commands if c not in ("PING", "ECHO")]


def test_a_start_is_one_redis_call_that_queues_celerys_own_message(api, redis_server, clip):
    # Given a dispatcher that has served a Start (its script is loaded)
    api.start(pusher_request(clip, "warm_up"))
    redis_server.client(0).delete(QUEUE)

    # When a client starts a push, watched by MONITOR
    monitor = Monitor(redis_server)
    task_id = api.start(pusher_request(clip, "pusher_1"))
    commands = monitor.stop()

    # Then the dispatcher sent Redis one command, the script
    assert commands == ["EVALSHA"]
    # And the record and its message are there, the message for this record
    assert default_store().get(task_id, "pusher").status is Status.NORMAL
    (mine,) = queued(redis_server)
    assert mine["headers"]["id"] == task_id

    # And it is what Celery publishes for the same task, but for its delivery tag
    redis_server.client(0).delete(QUEUE)
    Enqueuer(celery_app())(REGISTRY["pusher"], task_id)
    (celerys,) = queued(redis_server)
    assert mine["properties"].pop("delivery_tag") != celerys["properties"].pop("delivery_tag")
    assert mine == celerys


def test_a_pool_worker_runs_a_task_started_this_way(api, worker, rtmp_server, clip):
    # Given a pusher worker of the farm
    # When a client starts a push of a 4 s clip
    task_id = api.start(pusher_request(clip, "pusher_2"))

    # Then the worker takes it, the room gets the user's stream, and the push finishes
    api.wait_status(task_id, "pushing", timeout=60)
    streams = rtmp_server.wait_published(stream_name("pusher_2"))
    assert {s["codec_type"] for s in streams} == {"video", "audio"}
    done = api.finished(task_id, timeout=60)
    assert "ErrorCode" not in done["Result"], done["Result"]
    assert done["StartTime"] >= done["CreateTime"]


def refused(api, body: dict[str, Any]) -> tuple[int, str, str]:
    status, answer = api.post(body)
    return status, answer.get("ErrorCode", ""), answer.get("ErrorMessage", "")


def test_a_start_onto_a_queue_key_of_another_type_leaves_no_record(api, redis_server, clip):
    # Given the queue's key holds a string (a bad hand edit, another program)
    redis_server.client(0).set(QUEUE, "not a list")

    # When a client starts a push
    status, code, message = refused(api, pusher_request(clip, "pusher_3"))

    # Then the Start fails whole, saying why: no record, no index entry, no admission
    # slot, no message
    assert (status, code) == (503, "ServiceUnavailable")
    assert "queue holds another kind of value" in message
    assert records(redis_server) == []
    assert redis_server.client(2).zcard("capstan:tasks") == 0
    assert redis_server.client(2).scard("capstan:active:pusher") == 0
    assert redis_server.client(0).get(QUEUE) == "not a list"

    # And once the key is a queue again, the same Start goes through, record and message
    redis_server.client(0).delete(QUEUE)
    task_id = api.start(pusher_request(clip, "pusher_3"))
    assert [m["headers"]["id"] for m in queued(redis_server)] == [task_id]


def test_a_start_redis_has_no_memory_for_leaves_no_record(api, redis_server, clip):
    # Given a Redis at its memory limit (noeviction: writes are refused)
    admin = redis_server.client(0)
    admin.config_set("maxmemory", "1")
    try:
        # When a client starts a push
        status, code, message = refused(api, pusher_request(clip, "pusher_4"))
    finally:
        admin.config_set("maxmemory", "0")

    # Then it is refused whole: no record, no message
    assert (status, code) == (503, "ServiceUnavailable")
    assert "maxmemory" in message
    assert records(redis_server) == []
    assert queued(redis_server) == []


def test_a_start_past_the_admission_limit_queues_nothing(settings, redis_server, clip):
    from dispatcher.app import create_app

    # Given a farm that runs one push at a time, running one
    limited = settings.model_copy(update={"max_active_tasks": {"pusher": 1}})
    api = PusherApi(create_app(limited).test_client())
    first = api.start(pusher_request(clip, "pusher_5"))

    # When a second push is started
    status, code, _ = refused(api, pusher_request(clip, "pusher_6"))

    # Then it is refused, and only the first task has a record and a message
    assert (status, code) == (429, "LimitExceeded")
    assert records(redis_server) == [f"capstan:task:{first}"]
    assert [m["headers"]["id"] for m in queued(redis_server)] == [first]
