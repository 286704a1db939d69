"""The dispatcher against a real Redis (Flask's test client, no HTTP server):
records, Celery messages, the state table, admission, duplicates, bad bodies, secrets."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from tests.support.openapi import assert_conforms
from tests.support.redis_text import redis_text
from workers.common.domain.states import Status
from workers.common.domain.store import task_key

pytestmark = pytest.mark.integration

USER_SIG = "usersig-SECRET-1b2c3d"
COS_KEY = "coskey-SECRET-9f8e7d"
ENCRYPT_KEY = "21834cca41778803e1afba3f41e70c90"
REDIS_PASSWORD = "redispw-SECRET-5a6b"
SECRETS = (USER_SIG, COS_KEY, ENCRYPT_KEY, REDIS_PASSWORD)

PANORAMA_START = {
    "Action": "Start",
    "Data": {
        "RecordURL": "https://example.com/class",
        "Output": {
            "Video": {
                "Muxer": "hls",
                "EncryptKey": ENCRYPT_KEY,
                "AuthUrl": "https://k.example/enc.key",
            }
        },
    },
}
RECORDER_FLAT = {
    "SdkAppId": 1400000000,
    "RoomId": 43474,
    "UserId": "user_55952145",
    "Mode": "02",
    "UserSig": USER_SIG,
    "CosConfig": {
        "Region": "ap-shanghai",
        "Bucket": "test-123456789",
        "Path": "/trtc",
        "SecretId": "AKIDexample",
        "SecretKey": COS_KEY,
    },
}
PUSHER_FLAT = {
    "videoSrc": "https://example.com/a.mp4",
    "sdkAppId": "1400000000",
    "roomId": "1234",
    "userId": "pusher_1",
    "userSig": USER_SIG,
    "redisPassword": REDIS_PASSWORD,
}


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def access_lines():
    from dispatcher import access_log

    lines = Lines()
    access_log.logger.addHandler(lines)
    level = access_log.logger.level
    access_log.logger.setLevel(logging.INFO)
    yield lines.lines
    access_log.logger.setLevel(level)
    access_log.logger.removeHandler(lines)


@pytest.fixture
def app(capstan_env):
    from dispatcher.app import create_app

    return create_app(capstan_env)


@pytest.fixture
def client(app):
    return app.test_client()


def start(client, service="panorama", body=None):
    response = client.post(f"/v1/{service}", json=body or PANORAMA_START)
    assert response.status_code == 200, response.get_json()
    assert_conforms(response.get_json(), "Accepted")
    return response.get_json()["TaskID"]


def act(client, action, task_id, service="panorama"):
    return client.post(f"/v1/{service}", json={"Action": action, "Data": {"TaskID": task_id}})


def queued(redis_server, queue):
    return [json.loads(raw) for raw in redis_server.client(0).lrange(queue, 0, -1)]


def test_start_writes_the_record_and_queues_only_the_task_id(client, redis_server):
    response = client.post("/v1/panorama", json=PANORAMA_START)
    body = response.get_json()
    assert response.status_code == 200
    assert set(body) == {"TaskID", "RequestID"}
    assert response.headers["X-Request-Id"] == body["RequestID"]

    record = redis_server.client(2).hgetall(task_key(body["TaskID"]))
    assert record["service"] == "panorama"
    assert record["status"] == "normal"
    assert record["request_id"] == body["RequestID"]
    spec = json.loads(record["spec"])
    assert spec["RecordURL"] == "https://example.com/class"
    assert "EncryptKey" not in json.dumps(spec)

    (message,) = queued(redis_server, "panorama")
    assert message["headers"]["task"] == "capstan.panorama.run"
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    assert (args, kwargs) == ([body["TaskID"]], {})


def test_seed_flat_bodies_start_recorder_and_pusher(client, redis_server):
    recorder_id = start(client, "recorder", RECORDER_FLAT)
    pusher_id = start(client, "pusher", PUSHER_FLAT)
    assert [
        json.loads(base64.b64decode(m["body"]))[0] for m in queued(redis_server, "recorder")
    ] == [[recorder_id]]
    assert [json.loads(base64.b64decode(m["body"]))[0] for m in queued(redis_server, "pusher")] == [
        [pusher_id]
    ]


def test_describe_by_action_and_by_get(client):
    task_id = start(client)
    described = act(client, "Describe", task_id).get_json()
    assert described["TaskID"] == task_id
    assert described["Status"] == "normal"
    assert isinstance(described["CreateTime"], int)
    assert "StartTime" not in described
    assert_conforms(described, "Task")
    by_get = client.get(f"/v1/tasks/{task_id}").get_json()
    assert by_get["Status"] == "normal"
    assert_conforms(by_get, "Task")


def test_a_task_of_another_service_is_not_found(client):
    task_id = start(client)
    response = act(client, "Describe", task_id, service="recorder")
    assert (response.status_code, response.get_json()["ErrorCode"]) == (404, "TaskNotFound")
    unknown = act(client, "Describe", "0f7d9522-a1a3-4517-b5ad-7a6eca000000")
    assert unknown.status_code == 404


def test_state_table(client, capstan_env):
    from workers.common.domain.store import default_store

    task_id = start(client)
    # Not started yet: Pause and Resume are refused.
    assert act(client, "Pause", task_id).status_code == 409
    assert act(client, "Resume", task_id).status_code == 409
    # A worker starts it.
    store = default_store()
    assert store.advance(task_id, 1, status=Status.RECORDING, start_time=1) == "ok"
    assert act(client, "Resume", task_id).status_code == 409
    assert act(client, "Pause", task_id).status_code == 200
    assert act(client, "Describe", task_id).get_json()["Status"] == "paused"
    assert act(client, "Pause", task_id).status_code == 409
    assert act(client, "Refresh", task_id).status_code == 200
    assert act(client, "Resume", task_id).status_code == 200
    assert act(client, "Describe", task_id).get_json()["Status"] == "recording"
    assert act(client, "Stop", task_id).status_code == 200
    again = act(client, "Stop", task_id)
    assert again.status_code == 409
    assert "Stop was already requested" in again.get_json()["ErrorMessage"]
    commands = [
        json.loads(c)["action"] for c in store.r.lrange(f"{task_key(task_id)}:control", 0, -1)
    ]
    assert commands == ["Pause", "Refresh", "Resume", "Stop"]


def test_stop_of_a_task_not_started_cancels_it(client):
    task_id = start(client)
    assert act(client, "Stop", task_id).status_code == 200
    described = act(client, "Describe", task_id).get_json()
    assert described["Status"] == "canceled"
    assert "CancelTime" in described
    assert act(client, "Pause", task_id).status_code == 409


def test_admission_limit(client, capstan_env, monkeypatch):
    monkeypatch.setitem(capstan_env.max_active_tasks, "panorama", 2)
    first = start(client)
    start(client)
    refused = client.post("/v1/panorama", json=PANORAMA_START)
    assert (refused.status_code, refused.get_json()["ErrorCode"]) == (429, "LimitExceeded")
    # A canceled task frees its slot.
    act(client, "Stop", first)
    start(client)


def test_recording_the_same_user_twice_names_the_running_task(client):
    first = start(client, "recorder", RECORDER_FLAT)
    duplicate = client.post("/v1/recorder", json={"Action": "Start", "Data": RECORDER_FLAT})
    assert duplicate.status_code == 409
    assert duplicate.get_json()["ErrorCode"] == "InvalidState"
    assert first in duplicate.get_json()["ErrorMessage"]
    # Once it is stopped, the user may be recorded again.
    act(client, "Stop", first, service="recorder")
    start(client, "recorder", RECORDER_FLAT)


def test_list_tasks(client):
    first = start(client)
    second = start(client, "pusher", PUSHER_FLAT)
    act(client, "Stop", first)
    answer = client.get("/v1/tasks").get_json()
    assert_conforms(answer, "TaskList")
    listed = answer["Tasks"]
    assert {t["TaskID"] for t in listed} == {first, second}
    only = client.get("/v1/tasks?service=panorama&status=canceled&limit=5").get_json()["Tasks"]
    assert [(t["TaskID"], t["Service"], t["Status"]) for t in only] == [
        (first, "panorama", "canceled")
    ]
    assert client.get("/v1/tasks?status=bogus").status_code == 400


def test_no_secret_is_stored_in_clear(client, redis_server):
    start(client, "panorama", PANORAMA_START)
    start(client, "recorder", RECORDER_FLAT)
    start(client, "pusher", PUSHER_FLAT)
    for db in (0, 1, 2):
        dumped = redis_text(redis_server.client, (db,))
        for secret in SECRETS:
            assert secret not in dumped, f"{secret} found in db{db}"


def test_redis_down_is_503_not_500(client, redis_server):
    redis_server.stop()
    try:
        response = client.post("/v1/panorama", json=PANORAMA_START)
        assert (response.status_code, response.get_json()["ErrorCode"]) == (
            503,
            "ServiceUnavailable",
        )
        assert client.get("/readyz").status_code == 503
    finally:
        redis_server.start()
    assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize("hops, client_seen", [(0, "127.0.0.1"), (1, "203.0.113.9")])
def test_the_access_line_names_request_and_id_and_believes_a_proxy_only_when_told(
    capstan_env, access_lines, hops, client_seen
):
    from dispatcher.app import create_app

    client = create_app(capstan_env.model_copy(update={"forwarded_hops": hops})).test_client()
    answer = client.get("/healthz?signature=s3cret", headers={"X-Forwarded-For": "203.0.113.9"})

    [line] = access_lines
    assert line.startswith(f'{client_seen} "GET /healthz HTTP/1.1" 200 '), line
    assert line.endswith(f" rid={answer.headers['X-Request-Id']}"), line
    assert "s3cret" not in line


def test_metrics_count_requests(client):
    start(client)
    client.post("/v1/panorama", data=b"nope")
    text = client.get("/metrics").data.decode()
    assert 'capstan_dispatcher_requests_total{action="Start",code="200",service="panorama"}' in text
    assert "capstan_dispatcher_request_seconds_bucket" in text


@pytest.fixture
def replica(redis_server, tmp_path, log_dir):
    """A replica of the session's Redis, in sync (what a Sentinel group's replica is)."""
    from tests.support.servers import RedisServer

    server = RedisServer(
        tmp_path / "replica", log_dir, name="redis-replica", replica_of=redis_server.port
    )
    server.start()
    server.wait_in_sync()
    yield server
    server.stop()


def test_a_start_answers_200_only_once_a_replica_holds_the_task_and_its_message(
    capstan_env, replica
):
    from dispatcher.app import create_app

    settings = capstan_env.model_copy(update={"redis_min_replicas": 1})
    task_id = start(create_app(settings).test_client())

    # On the replica the moment Start answered: the record, and the message on its queue
    assert replica.client(2).hget(task_key(task_id), "status") == "normal"
    assert [m["headers"]["id"] for m in queued(replica, "panorama")] == [task_id]


def test_a_start_no_replica_confirms_answers_503_and_is_withdrawn(capstan_env, redis_server):
    from dispatcher.app import create_app
    from workers.common.domain.store import default_store

    settings = capstan_env.model_copy(
        update={"redis_min_replicas": 1, "redis_replica_timeout_s": 0.2}
    )
    response = create_app(settings).test_client().post("/v1/panorama", json=PANORAMA_START)

    body = response.get_json()
    assert (response.status_code, body["ErrorCode"]) == (503, "ServiceUnavailable")
    assert "retry" in body["ErrorMessage"]
    # Withdrawn: the client retries, and this one neither runs nor holds an admission slot
    (record,) = default_store().list_tasks("panorama")
    assert record.status is Status.CANCELED
    assert not redis_server.client(2).smembers("capstan:active:panorama")


def test_with_no_redis_master_to_be_found_requests_get_503_within_seconds(capstan_env, monkeypatch):
    import time

    from dispatcher.app import create_app
    from tests.support.farm import forget_cached_state
    from tests.support.tools import free_port

    # Sentinels that do not answer: what the farm sees before a failover elects a master
    sentinels = ";".join(f"sentinel://127.0.0.1:{free_port()}" for _ in range(3))
    monkeypatch.setenv("CAPSTAN_REDIS_URL", sentinels)
    client = create_app(forget_cached_state()).test_client()

    for body in (
        PANORAMA_START,
        {"Action": "Describe", "Data": {"TaskID": "0f7d9522-a1a3-4517-b5ad-7a6eca000000"}},
    ):
        sent = time.monotonic()
        response = client.post("/v1/panorama", json=body)
        assert (response.status_code, response.get_json()["ErrorCode"]) == (
            503,
            "ServiceUnavailable",
        )
        assert time.monotonic() - sent < 5
    assert client.get("/readyz").status_code == 503
