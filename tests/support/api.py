"""One service's endpoint through the dispatcher, as a user drives it: in this process (a
Flask test client) or a real one over HTTP (HttpClient)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import requests

from config.settings import Settings
from workers.common.domain.signing import sign_request


class ServiceApi:
    service = ""
    default_timeout = 30.0

    def __init__(self, client: Any) -> None:
        self.client = client

    def post(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        response = self.client.post(f"/v1/{self.service}", json=body)
        return response.status_code, response.get_json()

    def start(self, body: dict[str, Any]) -> str:
        status, answer = self.post(body)
        assert status == 200, answer
        return str(answer["TaskID"])

    def act(self, action: str, task_id: str) -> dict[str, Any]:
        status, answer = self.post({"Action": action, "Data": {"TaskID": task_id}})
        assert status == 200, answer
        return answer

    def describe(self, task_id: str) -> dict[str, Any]:
        return self.act("Describe", task_id)

    def wait_status(
        self, task_id: str, *statuses: str, timeout: float | None = None
    ) -> dict[str, Any]:
        """Describe's body once Status is one of ``statuses``; ``_seen``: when (monotonic)."""
        deadline = time.monotonic() + (timeout or self.default_timeout)
        while True:
            body = self.describe(task_id)
            if body["Status"] in statuses:
                body["_seen"] = time.monotonic()
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"{task_id} still {body['Status']}, not {statuses}: {body}")
            time.sleep(0.1)

    def finished(self, task_id: str, timeout: float = 60.0) -> dict[str, Any]:
        return self.wait_status(task_id, "finished", timeout=timeout)


@dataclass(frozen=True)
class Pool:
    """The pool an integration test module drives (its module-level POOL): the API helper,
    and how many tasks its worker takes at a time (None: farm_process's default)."""

    api: type[ServiceApi]
    concurrency: int | None = None


class Answer:
    """A requests response shaped like a Flask test response, for ServiceApi."""

    def __init__(self, response: requests.Response) -> None:
        self.status_code = response.status_code
        self._response = response

    def get_json(self) -> Any:
        return self._response.json()


class HttpClient:
    """A real dispatcher (granian) behind ServiceApi, as a client reaches it: requests
    signed with ``app_key`` (name, secret) when given, as off loopback they must be."""

    def __init__(self, base_url: str, app_key: tuple[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_key = app_key
        self.session = requests.Session()

    def request(self, method: str, path: str, body: Any = None) -> requests.Response:
        raw = b"" if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.app_key is not None:
            headers.update(sign_request(method, path, raw, *self.app_key))
        return self.session.request(
            method, self.base_url + path, data=raw, headers=headers, timeout=30
        )

    def post(self, path: str, json: Any = None) -> Answer:
        return Answer(self.request("POST", path, json))


def local_file(settings: Settings, file_url: str) -> Path:
    """The default (local) output's file behind a FileURL of /files/<key>."""
    key = unquote(file_url.split("/files/", 1)[1])
    return settings.output_dir / key
