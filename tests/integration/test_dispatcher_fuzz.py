"""A table of malformed bodies: never a 500, always the error shape with a RequestID."""

from __future__ import annotations

import json

import pytest

from tests.support.openapi import assert_conforms

pytestmark = pytest.mark.integration

GOOD = {"RecordURL": "https://example.com/"}
BAD_BODIES: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("spaces", b"   \n"),
    ("not json", b"hello"),
    ("truncated", b'{"Action": "Start", "Data": {'),
    ("array", b"[]"),
    ("array of envelope", json.dumps([{"Action": "Start", "Data": GOOD}]).encode()),
    ("null", b"null"),
    ("number", b"42"),
    ("string", b'"Start"'),
    ("true", b"true"),
    ("NaN", b'{"Action":"Start","Data":{"RecordURL":"https://x","Width":NaN}}'),
    (
        "Infinity",
        b'{"Action":"Start","Data":{"RecordURL":"https://x","MaxDurationLimit":Infinity}}',
    ),
    ("latin-1", '{"Action":"Start","Data":{"RecordURL":"https://\xe9"}}'.encode("latin-1")),
    ("invalid utf-8", b'{"Action":"\xff\xfe"}'),
    ("deep nesting", b"[" * 50_000 + b"]" * 50_000),
    ("deep object", b'{"a":' * 20_000 + b"1" + b"}" * 20_000),
    ("huge", b'{"Action":"Start","Data":{"RecordURL":"' + b"a" * 200_000 + b'"}}'),
    ("action null", b'{"Action": null, "Data": {}}'),
    ("action list", b'{"Action": ["Start"], "Data": {}}'),
    ("action lower", b'{"Action": "start", "Data": {}}'),
    ("action unicode", '{"Action": "St\u00e4rt\u2603", "Data": {}}'.encode()),
    ("data null", b'{"Action": "Start", "Data": null}'),
    ("data string", b'{"Action": "Start", "Data": "RecordURL"}'),
    ("data list", b'{"Action": "Start", "Data": [1, 2]}'),
    ("url number", b'{"Action": "Start", "Data": {"RecordURL": 12}}'),
    (
        "url unicode",
        '{"Action":"Start","Data":{"RecordURL":"https://\u2603.example/\u0000"}}'.encode(),
    ),
    ("width string", b'{"Action":"Start","Data":{"RecordURL":"https://x","Width":"1e9"}}'),
    ("width float", b'{"Action":"Start","Data":{"RecordURL":"https://x","Width":12.5}}'),
    (
        "width huge",
        b'{"Action":"Start","Data":{"RecordURL":"https://x","Width":1' + b"0" * 5000 + b"}}",
    ),
    ("output list", b'{"Action":"Start","Data":{"RecordURL":"https://x","Output":[]}}'),
    ("cos number", b'{"Action":"Start","Data":{"RecordURL":"https://x","Output":{"Cos":7}}}'),
    (
        "video key object",
        b'{"Action":"Start","Data":{"RecordURL":"https://x","Video":{"EncryptKey":{}}}}',
    ),
    ("task id number", b'{"Action":"Describe","Data":{"TaskID":1}}'),
    ("task id huge", b'{"Action":"Stop","Data":{"TaskID":"' + b"f" * 10_000 + b'"}}'),
    ("task id unicode", '{"Action":"Pause","Data":{"TaskID":"\u2603"}}'.encode()),
]


@pytest.fixture
def client(capstan_env):
    from dispatcher.app import create_app

    return create_app(capstan_env).test_client()


@pytest.mark.parametrize("service", ["panorama", "recorder", "pusher"])
@pytest.mark.parametrize(("name", "body"), BAD_BODIES, ids=[name for name, _ in BAD_BODIES])
def test_malformed_bodies_are_client_errors(client, service, name, body):
    response = client.post(f"/v1/{service}", data=body, content_type="application/json")
    assert 400 <= response.status_code < 500, (name, response.get_json())
    answer = response.get_json()
    assert set(answer) == {"ErrorCode", "ErrorMessage", "RequestID"}
    assert_conforms(answer, "Error")
    assert answer["RequestID"] == response.headers["X-Request-Id"]


def test_wrong_content_types_and_methods(client):
    form = client.post(
        "/v1/panorama", data=b"a=b", content_type="application/x-www-form-urlencoded"
    )
    answers = {
        400: [
            form,
            client.get("/v1/tasks?limit=-1"),
            client.get("/v1/tasks?service=%00"),
            client.get("/v1/tasks/%E2%98%83"),
        ],
        405: [client.put("/v1/panorama", data=b"{}")],
    }
    for status, responses in answers.items():
        for response in responses:
            assert response.status_code == status
            assert_conforms(response.get_json(), "Error")
