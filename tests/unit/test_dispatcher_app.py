"""The dispatcher without servers: OpenAPI matches the routes, envelopes, auth, errors."""

import json
import re

import pytest
import redis

from config.settings import Settings
from dispatcher.app import create_app
from dispatcher.openapi import document
from tests.support.openapi import assert_conforms
from tests.support.tools import require
from workers.common.domain.signing import sign_request
from workers.common.domain.store import TaskStore

KEYS = {"app1": "s3cret"}


def make_app(**settings):
    # A Redis nobody listens on: these tests never reach it, or expect 503.
    store = TaskStore(redis.Redis(port=1, socket_connect_timeout=0.2, retry_on_error=[]))
    return create_app(Settings(**settings), store=store, message=lambda service, task_id: None)


@pytest.fixture
def client():
    return make_app().test_client()


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_openapi_lists_exactly_the_apps_routes():
    app = make_app()
    real = {
        (_openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, ops in document()["paths"].items() for method in ops}
    assert documented == real


def test_openapi_document_is_served_and_refs_resolve(client):
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    schemas = doc["components"]["schemas"]
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(doc)))
    assert refs <= set(schemas)
    assert {"PanoramaStart", "RecorderStart", "PusherStart", "TaskRef"} <= set(schemas)
    assert schemas["PanoramaStart"]["properties"]["Width"]["maximum"] == 2560


def test_openapi_document_is_valid_openapi_3_1():
    require("python:openapi_spec_validator")  # comes with moto[server]
    from openapi_spec_validator import validate

    validate(document())


def test_openapi_answers_are_the_models_describe_builds():
    schemas = document()["components"]["schemas"]
    result = schemas["TaskResult"]["properties"]
    # What the recorder's seeds' body adds; no FileId, which nothing produces.
    assert {"Files", "SdkAppId", "RoomId", "StrRoomId", "UserId"} <= set(result)
    assert set(schemas["VideoFile"]["properties"]) == {
        "Filename",
        "FileSize",
        "FileDuration",
        "FileURL",
    }
    for name in ("Accepted", "Error", "Task", "TaskList", "TaskResult", "VideoFile"):
        assert schemas[name]["additionalProperties"] is False, name
    assert set(schemas["Task"]["required"]) == {"TaskID", "Service", "Status", "Result"}


def test_every_response_carries_the_request_id_twice(client):
    for response in (client.get("/healthz"), client.post("/v1/panorama", data=b"nope")):
        rid = response.headers["X-Request-Id"]
        assert re.fullmatch(r"[0-9a-f]{32}", rid)
        assert response.headers["x-scf-reqid"] == rid


def test_healthz_is_always_ok(client):
    assert client.get("/healthz").get_json() == {"ok": True}
    assert_conforms(client.get("/healthz").get_json(), "Health")


def test_readyz_is_503_when_redis_does_not_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["ErrorCode"] == "ServiceUnavailable"
    assert_conforms(response.get_json(), "Error")


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            "/v1/panorama",
            b"{}",
            "Action missing: one of Start, Pause, Resume, Refresh, Stop, Describe",
        ),
        ("/v1/recorder", b'{"Action":"Refresh","Data":{}}', "Action 'Refresh' is not one of"),
        ("/v1/panorama", b'{"Action":"Start"}', "Data missing"),
        ("/v1/panorama", b'{"Action":"Start","Data":[]}', "Data must be an object, not an array"),
        ("/v1/pusher", b"[]", "request body must be a JSON object, not an array"),
        ("/v1/pusher", b"\xff", "request body is not valid JSON"),
        ("/v1/panorama", b'{"Action":"Pause","Data":{}}', "TaskID missing"),
    ],
)
def test_bad_envelopes_are_invalid_param(client, path, body, message):
    response = client.post(path, data=body)
    assert response.status_code == 400
    assert response.get_json()["ErrorCode"] == "InvalidParam"
    assert response.get_json()["ErrorMessage"].startswith(message)
    assert_conforms(response.get_json(), "Error")


def test_too_big_bodies_are_413(client):
    response = client.post("/v1/panorama", data=b"{" + b" " * 70_000 + b"}")
    assert response.status_code == 413
    assert response.get_json()["ErrorCode"] == "PayloadTooLarge"
    assert_conforms(response.get_json(), "Error")


def test_unknown_routes_and_methods_answer_in_the_error_shape(client):
    assert client.get("/nope").get_json()["ErrorCode"] == "NotFound"
    assert client.get("/v1/panorama").get_json()["ErrorCode"] == "MethodNotAllowed"
    for answer in (client.get("/nope"), client.get("/v1/panorama")):
        assert_conforms(answer.get_json(), "Error")


def test_with_app_keys_unsigned_requests_are_refused():
    client = make_app(app_keys=KEYS).test_client()
    response = client.post("/v1/panorama", json={"Action": "Describe", "Data": {}})
    assert response.status_code == 401
    assert response.get_json()["ErrorCode"] == "AuthFailure"
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200
    # KEDA reads the capacity unsigned: no Redis here, so 503, but not 401.
    capacity = client.get("/v1/ops/capacity")
    assert capacity.get_json()["ErrorCode"] == "ServiceUnavailable"


def test_with_app_keys_signed_requests_pass_auth():
    client = make_app(app_keys=KEYS).test_client()
    body = b'{"Action":"Describe","Data":{}}'
    headers = sign_request("POST", "/v1/panorama", body, "app1", "s3cret")
    response = client.post("/v1/panorama", data=body, headers=headers)
    assert response.get_json()["ErrorMessage"] == "TaskID missing"  # past auth, into validation
    query = sign_request("GET", "/v1/tasks?limit=0", b"", "app1", "s3cret")
    assert client.get("/v1/tasks?limit=0", headers=query).get_json()["ErrorCode"] == "InvalidParam"


def test_with_app_keys_s3_file_links_answer_unsigned_requests():
    # The link carries its own signature (?s=): a client without app keys follows it.
    client = make_app(app_keys=KEYS).test_client()
    response = client.get("/files/s3/us-east-1/bucket/task/a.mp4?s=not-a-signature")
    assert response.status_code == 404  # the link's own check, not AuthFailure


def test_an_s3_link_with_a_non_ascii_signature_is_not_found():
    # Found by the schemathesis fuzz: hmac.compare_digest raised on non-ASCII text (a 500).
    client = make_app(app_keys=KEYS).test_client()
    response = client.get("/files/s3/us-east-1/bucket/task/a.mp4?s=%C3%A9t%C3%A9")
    assert response.status_code == 404


def test_old_signatures_are_refused():
    client = make_app(app_keys=KEYS).test_client()
    headers = sign_request("GET", "/v1/tasks", b"", "app1", "s3cret", date="1000000000")
    response = client.get("/v1/tasks", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["ErrorMessage"] == "request date too old or in the future"


def test_files_never_leave_the_output_dir(tmp_path):
    app = make_app(data_dir=tmp_path)
    (tmp_path / "output").mkdir()
    (tmp_path / "output" / "a.mp4").write_bytes(b"0123456789")
    (tmp_path / "secret.key").write_bytes(b"key")
    client = app.test_client()
    assert client.get("/files/a.mp4").data == b"0123456789"
    ranged = client.get("/files/a.mp4", headers={"Range": "bytes=2-4"})
    assert (ranged.status_code, ranged.data) == (206, b"234")
    for path in ("/files/../secret.key", "/files/%2e%2e/secret.key", "/files/..%2fsecret.key"):
        assert client.get(path).status_code == 404
