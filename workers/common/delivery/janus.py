"""A small client of the Janus VideoRoom plugin over Janus's HTTP API (Janus 1.1).

A ``VideoRoom`` is one Janus session with one VideoRoom handle: synchronous requests
(``exists``, ``list``, ``listparticipants``, ``rtp_forward``...) answer at once; a ``join``
answers through the session's long poll (``event``). Every call has a timeout; every
failure is a ``JanusError`` (``JanusUnreachable`` when the server does not answer), with
the VideoRoom's own error code when it gave one. Secrets (pin, room secret, admin key)
travel in request bodies only, never in the URL, and are never part of an error's text.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from typing import Any

import requests

PLUGIN = "janus.plugin.videoroom"
# The VideoRoom's error codes (janus_videoroom.c) the farm tells apart.
NO_SUCH_ROOM = 426
NO_SUCH_FEED = 428
UNAUTHORIZED = 433


class JanusError(Exception):
    """Janus or its VideoRoom refused a request; ``code`` is the VideoRoom's error_code."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class JanusUnreachable(JanusError):
    """No answer from the Janus HTTP API (down, wrong URL, or too slow)."""


class RoomRefused(JanusError):
    """The room does not exist, or the pin does not open it; the message says which."""


def room_key(room: str) -> int | str:
    """A VideoRoom id: numeric ids as numbers (Janus's default), others as strings
    (Janus with ``string_ids = true``)."""
    return int(room) if room.isdigit() else room


class VideoRoom:
    """One session and VideoRoom handle on the Janus at ``url`` (…/janus)."""

    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.session: int | None = None
        self.handle: int | None = None

    def __enter__(self) -> VideoRoom:
        return self.open()

    def __exit__(self, *_: object) -> None:
        self.close()

    def open(self) -> VideoRoom:
        self.session = int(self._post(self.url, {"janus": "create"})["data"]["id"])
        attached = self._post(self._session_url, {"janus": "attach", "plugin": PLUGIN})
        self.handle = int(attached["data"]["id"])
        return self

    def close(self) -> None:
        """Destroy the session (and its handle); best effort, never raises."""
        if self.session is None:
            return
        with contextlib.suppress(JanusError):
            self._post(self._session_url, {"janus": "destroy"})
        self.session = self.handle = None

    # ---- requests --------------------------------------------------------------------

    def request(self, body: dict[str, Any]) -> dict[str, Any]:
        """A synchronous VideoRoom request; its answer's data (an error raises)."""
        answer = self._post(self._handle_url, {"janus": "message", "body": body})
        return _plugin_data(answer, body["request"])

    def join(self, body: dict[str, Any]) -> dict[str, Any]:
        """An asynchronous request (``join``): its event's data, from the long poll."""
        return self.exchange(body)[0]

    def exchange(
        self, body: dict[str, Any], jsep: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """An asynchronous request, with an SDP offer or answer (``jsep``) when given: the
        event's data and the SDP Janus sent back with it, if any."""
        message: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            message["jsep"] = jsep
        answer = self._post(self._handle_url, message)
        if answer.get("janus") != "ack":
            return _plugin_data(answer, body["request"]), answer.get("jsep")
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            for event in self._poll():
                if event.get("transaction") == answer["transaction"]:
                    return _plugin_data(event, body["request"]), event.get("jsep")
        raise JanusUnreachable(f"Janus did not answer {body['request']!r} in {self.timeout_s} s")

    def keepalive(self) -> None:
        self._post(self._session_url, {"janus": "keepalive"})

    def participants(self, room: int | str) -> list[dict[str, Any]]:
        data = self.request({"request": "listparticipants", "room": room})
        return list(data.get("participants", []))

    # ---- transport -------------------------------------------------------------------

    @property
    def _session_url(self) -> str:
        return f"{self.url}/{self.session}"

    @property
    def _handle_url(self) -> str:
        return f"{self.url}/{self.session}/{self.handle}"

    def _poll(self) -> list[dict[str, Any]]:
        try:
            response = requests.get(
                self._session_url, params={"maxev": 5}, timeout=self.timeout_s + 35
            )
            answer = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise JanusUnreachable(f"Janus at {self.url} did not answer: {_why(exc)}") from exc
        return answer if isinstance(answer, list) else [answer]

    def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {**body, "transaction": secrets.token_hex(8)}
        try:
            response = requests.post(url, json=body, timeout=self.timeout_s)
            answer: dict[str, Any] = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise JanusUnreachable(f"Janus at {self.url} did not answer: {_why(exc)}") from exc
        if answer.get("janus") == "error":
            error = answer.get("error", {})
            raise JanusError(f"Janus: {error.get('reason', 'error')}", error.get("code"))
        return answer


NO_FEED = 1  # a feed id no publisher has (Janus ids are random 53-bit numbers)


def check_access(client: VideoRoom, room: int | str, pin: str) -> None:
    """The room exists and ``pin`` opens it, else RoomRefused saying which.

    The pin is checked by a subscriber ``join`` that names no real feed: Janus checks the
    pin before the feed, so nothing is subscribed and no one sees us.
    """
    if not client.request({"request": "exists", "room": room}).get("exists"):
        raise RoomRefused(f"room {room} does not exist")
    body = {"request": "join", "ptype": "subscriber", "room": room, "pin": pin,
            "streams": [{"feed": NO_FEED}]}  # fmt: skip
    try:
        client.join(body)
    except JanusUnreachable:
        raise
    except JanusError as exc:
        if exc.code == UNAUTHORIZED:
            raise RoomRefused(f"UserSig is not room {room}'s pin", exc.code) from exc
        if exc.code != NO_SUCH_FEED:
            raise


def _plugin_data(answer: dict[str, Any], request: str) -> dict[str, Any]:
    data: dict[str, Any] = answer.get("plugindata", {}).get("data", {})
    if "error_code" in data or "error" in data:
        raise JanusError(
            f"VideoRoom {request!r}: {data.get('error', 'error')}", data.get("error_code")
        )
    return data


def _why(exc: Exception) -> str:
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return "connection refused"
    return type(exc).__name__
