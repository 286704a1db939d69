"""The dispatcher's HTTP API, signed with workers.common.domain.signing when a key is configured."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from cli.config import Config
from workers.common.domain.signing import sign_request

TIMEOUT_S = 30.0


class ApiError(Exception):
    """The dispatcher answered with its error body {ErrorCode, ErrorMessage, RequestID}."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        self.code = str(body.get("ErrorCode") or f"HTTP{status}")
        self.message = str(body.get("ErrorMessage") or "")
        self.request_id = str(body.get("RequestID") or "")
        super().__init__(f"{self.code}: {self.message}")


class Unreachable(Exception):
    """No usable answer: connection refused, timeout, or a body that is not the API's."""


class Client:
    def __init__(self, config: Config, session: requests.Session | None = None) -> None:
        self.config = config
        self.http = session or requests.Session()

    def action(self, service: str, action: str, data: dict[str, Any]) -> dict[str, Any]:
        return self.call("POST", f"/v1/{service}", {"Action": action, "Data": data})

    def task(self, task_id: str) -> dict[str, Any]:
        return self.call("GET", f"/v1/tasks/{task_id}")

    def tasks(self, service: str | None, status: str | None, limit: int) -> list[dict[str, Any]]:
        params = {"service": service, "status": status, "limit": str(limit)}
        answer = self.call("GET", "/v1/tasks", params={k: v for k, v in params.items() if v})
        tasks: list[dict[str, Any]] = answer.get("Tasks", [])
        return tasks

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The JSON answer; ApiError for the API's error body, Unreachable otherwise."""
        raw = json.dumps(body).encode() if body is not None else b""
        request = requests.Request(method, self.config.url + path, params=params, data=raw)
        prepared = self.http.prepare_request(request)
        if body is not None:
            prepared.headers["Content-Type"] = "application/json"
        if self.config.signs:
            prepared.headers.update(self._signature(prepared, raw))
        try:
            response = self.http.send(prepared, timeout=TIMEOUT_S)
        except requests.ConnectionError:
            raise Unreachable(
                f"cannot reach the dispatcher at {self.config.url} (connection refused or "
                "no route): is the farm running? `make run` starts it; --url chooses another"
            ) from None
        except requests.RequestException as exc:
            raise Unreachable(f"{method} {self.config.url}{path}: {exc}") from exc
        return _answer(response)

    def _signature(self, prepared: requests.PreparedRequest, raw: bytes) -> dict[str, str]:
        # The dispatcher checks the path and query exactly as sent (after the mount point).
        mount = urlsplit(self.config.url).path.rstrip("/")
        path = (prepared.path_url or "/").removeprefix(mount) or "/"
        method = prepared.method or "GET"
        return sign_request(method, path, raw, self.config.key, self.config.secret)

    def download(self, url: str, target: Path) -> int:
        """Stream a file (output files are never signed) to ``target``; its size."""
        try:
            with self.http.get(url, stream=True, timeout=TIMEOUT_S) as response:
                if response.status_code != 200:
                    raise Unreachable(f"GET {url}: HTTP {response.status_code}")
                return _save(response.iter_content(chunk_size=1 << 16), target)
        except requests.RequestException as exc:
            raise Unreachable(f"GET {url}: {exc}") from exc

    def text(self, url: str) -> str:
        try:
            response = self.http.get(url, timeout=TIMEOUT_S)
        except requests.RequestException as exc:
            raise Unreachable(f"GET {url}: {exc}") from exc
        if response.status_code != 200:
            raise Unreachable(f"GET {url}: HTTP {response.status_code}")
        return response.text


def _answer(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise Unreachable(
            f"{response.request.method} {response.url}: HTTP {response.status_code}, "
            "not a JSON answer (is this the Capstan dispatcher?)"
        ) from None
    if not isinstance(body, dict):
        raise Unreachable(f"{response.url}: the answer is not a JSON object")
    if response.status_code >= 400 or "ErrorCode" in body:
        raise ApiError(response.status_code, body)
    return body


def _save(chunks: Iterator[bytes], target: Path) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    size = 0
    with partial.open("wb") as out:
        for chunk in chunks:
            out.write(chunk)
            size += len(chunk)
    partial.replace(target)
    return size
