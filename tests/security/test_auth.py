"""Request signatures on the real dispatcher (gunicorn): every API endpoint needs one,
a replayed request is refused once its date is old, and a non-loopback bind without
keys does not start at all.
"""

from __future__ import annotations

import json
import time

import pytest
import requests

from deploy.local.process import ChildFailed
from workers.common.signing import sign_request

pytestmark = pytest.mark.integration

KEYS = {"app1": "s3cret-app-key"}
API = [
    ("POST", "/v1/panorama", b'{"Action":"Describe","Data":{"TaskID":"x"}}'),
    ("POST", "/v1/recorder", b'{"Action":"Describe","Data":{"TaskID":"x"}}'),
    ("POST", "/v1/pusher", b'{"Action":"Describe","Data":{"TaskID":"x"}}'),
    ("GET", "/v1/tasks", b""),
    ("GET", "/v1/tasks/x", b""),
]


def call(url: str, method: str, path: str, body: bytes, headers=None) -> requests.Response:
    headers = {"Content-Type": "application/json", **(headers or {})}
    return requests.request(method, url + path, data=body, headers=headers, timeout=10)


def test_every_api_endpoint_wants_a_signature_and_a_replay_is_refused(farm_process):
    keys = {"CAPSTAN_APP_KEYS": json.dumps(KEYS), "CAPSTAN_SIGNATURE_MAX_SKEW_S": "3"}
    url = farm_process("dispatcher", env=keys).url

    for method, path, body in API:
        unsigned = call(url, method, path, body)
        assert unsigned.status_code == 401, (path, unsigned.text)
        assert unsigned.json()["ErrorCode"] == "AuthFailure"
        bad = sign_request(method, path, body, "app1", "not-the-secret")
        assert call(url, method, path, body, bad).status_code == 401
        signed = call(
            url, method, path, body, sign_request(method, path, body, "app1", KEYS["app1"])
        )
        assert signed.status_code != 401, (path, signed.text)
    assert requests.get(url + "/healthz", timeout=10).status_code == 200

    # A request captured on the wire and replayed once its date is older than the skew
    method, path, body = "GET", "/v1/tasks", b""
    captured = sign_request(method, path, body, "app1", KEYS["app1"])
    assert call(url, method, path, body, captured).status_code == 200
    time.sleep(4.5)
    replayed = call(url, method, path, body, captured)
    assert replayed.status_code == 401
    assert replayed.json()["ErrorMessage"] == "request date too old or in the future"


def test_a_non_loopback_bind_without_keys_refuses_to_start(farm_process):
    with pytest.raises(ChildFailed) as refused:
        farm_process(
            "dispatcher", env={"CAPSTAN_HOST": "0.0.0.0", "CAPSTAN_APP_KEYS": "{}"}, timeout=30
        )
    assert "CAPSTAN_APP_KEYS" in str(refused.value)
