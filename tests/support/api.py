"""One service's endpoint through the dispatcher (a Flask test client), as a user drives it."""

from __future__ import annotations

import time
from typing import Any


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
