"""Request signatures on the real dispatcher (granian): every API endpoint needs one,
a replayed request is refused once its date is old, and a non-loopback bind without
keys does not start at all.
"""

from __future__ import annotations

import json
import time

import pytest
import requests

from deploy.local.process import ChildFailed
from workers.common.domain.signing import sign_request

pytestmark = pytest.mark.integration

KEYS = {"app1": "s3cret-app-key"}
UNKNOWN = "00000000-0000-4000-8000-000000000000"  # a well-formed TaskID no Start gave
DESCRIBE = b'{"Action":"Describe","Data":{"TaskID":"%s"}}' % UNKNOWN.encode()
# Each endpoint, and what a signed request gets from an empty farm: the endpoint's own
# answer (the list, or "no such task" from the store), which neither a refusal, nor a
# body check, nor a crash gives.
API = [
    ("POST", "/v1/panorama", DESCRIBE, 404, "TaskNotFound"),
    ("POST", "/v1/recorder", DESCRIBE, 404, "TaskNotFound"),
    ("POST", "/v1/pusher", DESCRIBE, 404, "TaskNotFound"),
    ("GET", "/v1/tasks", b"", 200, None),
    ("GET", f"/v1/tasks/{UNKNOWN}", b"", 404, "TaskNotFound"),
]


def call(url: str, method: str, path: str, body: bytes, headers=None) -> requests.Response:
    headers = {"Content-Type": "application/json", **(headers or {})}
    return requests.request(method, url + path, data=body, headers=headers, timeout=10)


def test_every_api_endpoint_wants_a_signature_and_a_replay_is_refused(farm_process):
    keys = {"CAPSTAN_APP_KEYS": json.dumps(KEYS), "CAPSTAN_SIGNATURE_MAX_SKEW_S": "3"}
    url = farm_process("dispatcher", env=keys).url

    for method, path, body, status, error in API:
        unsigned = call(url, method, path, body)
        assert unsigned.status_code == 401, (path, unsigned.text)
        assert unsigned.json()["ErrorCode"] == "AuthFailure"
        bad = call(url, method, path, body, sign_request(method, path, body, "app1", "not-it"))
        assert (bad.status_code, bad.json()["ErrorCode"]) == (401, "AuthFailure"), path
        signed = call(
            url, method, path, body, sign_request(method, path, body, "app1", KEYS["app1"])
        )
        assert signed.status_code == status, (path, signed.text)
        if error is None:
            assert signed.json()["Tasks"] == [], path
        else:
            assert signed.json()["ErrorCode"] == error, (path, signed.text)
    assert requests.get(url + "/healthz", timeout=10).status_code == 200

    # A request captured on the wire and replayed once its date is older than the skew
    method, path, body = "GET", "/v1/tasks", b""
    captured = sign_request(method, path, body, "app1", KEYS["app1"])
    first = call(url, method, path, body, captured)
    assert (first.status_code, first.json()["Tasks"]) == (200, [])
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
