"""How the room publisher's SDP offer reaches the room: one interface, two ways.

JanusSignalling speaks Janus's HTTP API (a session, a VideoRoom handle, joinandconfigure
with the offer; the user's UserSig is the room's pin). WhipSignalling speaks WHIP (RFC 9725:
POST the offer, 201 with the answer and a Location, DELETE it to hang up; the UserSig is
the bearer token), e.g. to simple-whip-server in front of Janus. Both raise Refused when
the room or endpoint says no and Unreachable when nobody answers; neither message holds the
pin or the token.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urljoin

import requests

from workers.common.delivery import janus
from workers.common.domain.redaction import hide


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Refused(Exception):
    """The room or the endpoint said no (exit REFUSED); the message says why."""


class Unreachable(Exception):
    """The signalling server did not answer, or failed on its side (exit UNREACHABLE)."""


class Signalling(Protocol):
    """How an SDP offer reaches the room. Blocking calls: the publisher runs them in a thread."""

    def offer(self, sdp: str) -> str:
        """Publish: our offer in, the room's answer out (Refused, Unreachable)."""

    def keepalive(self) -> None:
        """Called every 15 s while publishing (Janus drops a silent session)."""

    def hang_up(self) -> None:
        """Leave the room; idempotent, never raises."""


@dataclass(frozen=True)
class Target:
    janus_url: str
    room: str
    display: str
    pin: str
    timeout_s: float


class JanusSignalling:
    """Janus's HTTP API: a session, a VideoRoom handle, joinandconfigure with the offer."""

    def __init__(self, target: Target, kinds: list[str]) -> None:
        self.target, self.kinds = target, kinds
        self.client: janus.VideoRoom | None = None

    def offer(self, sdp: str) -> str:
        target = self.target
        key = janus.room_key(target.room)
        try:
            self.client = janus.VideoRoom(target.janus_url, target.timeout_s).open()
            janus.check_access(self.client, key, target.pin)
            body = {"request": "joinandconfigure", "ptype": "publisher", "room": key,
                    "display": target.display, "pin": target.pin,
                    "audio": "audio" in self.kinds, "video": "video" in self.kinds}  # fmt: skip
            _, jsep = self.client.exchange(body, {"type": "offer", "sdp": sdp})
        except janus.JanusUnreachable as exc:
            raise Unreachable(str(exc)) from exc
        except janus.JanusError as exc:  # RoomRefused, or another refusal of the join
            raise Refused(str(exc)) from exc
        if jsep is None:
            raise Refused("the room answered the publish without an SDP")
        say(f"joined: room {target.room} as {target.display}")
        return str(jsep["sdp"])

    def keepalive(self) -> None:
        if self.client is not None:
            with contextlib.suppress(janus.JanusError):
                self.client.keepalive()

    def hang_up(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            client.close()  # destroys the session: we leave the room


# What a WHIP endpoint's refusal means (RFC 9725 answers; simple-whip-server's 403 is a
# wrong or missing token).
WHIP_REFUSALS = {401: "the token was refused", 403: "the token was refused",
                 404: "no such WHIP endpoint"}  # fmt: skip


# The server is there but cannot serve now (overloaded, or its SFU is away): tried again.
UNAVAILABLE = frozenset({502, 503, 504})


class WhipSignalling:
    """WHIP: POST the offer (application/sdp, Bearer token), 201 with the answer and a
    Location; DELETE that resource to hang up."""

    def __init__(self, url: str, token: str, timeout_s: float) -> None:
        self.url, self.token, self.timeout_s = url, token, timeout_s
        self.resource: str | None = None

    def offer(self, sdp: str) -> str:
        headers = {"Content-Type": "application/sdp", **self._auth()}
        answer = self._request("POST", self.url, headers, sdp)
        location = answer.headers.get("Location")
        if answer.status_code != 201 or not location:
            raise self._refusal(answer)
        self.resource = urljoin(self.url, location)
        say(f"joined: WHIP endpoint {self.url}")
        return answer.text

    def keepalive(self) -> None:
        """WHIP needs none: the session lives as long as its WebRTC connection."""

    def hang_up(self) -> None:
        if self.resource is None:
            return
        resource, self.resource = self.resource, None
        try:
            answer = self._request("DELETE", resource, self._auth())
        except Unreachable as exc:
            say(f"hang-up: {exc}")
            return
        if answer.status_code >= 300:
            say(f"hang-up: the WHIP resource answered {self._status(answer)}")

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def _request(
        self, method: str, url: str, headers: dict[str, str], body: str | None = None
    ) -> requests.Response:
        try:
            return requests.request(
                method, url, headers=headers, data=body, timeout=self.timeout_s,
                allow_redirects=False,
            )  # fmt: skip
        except requests.Timeout as exc:
            raise Unreachable(f"the WHIP server at {url} timed out") from exc
        except requests.RequestException as exc:
            raise Unreachable(f"the WHIP server at {url} refused the connection") from exc

    def _refusal(self, answer: requests.Response) -> Exception:
        why = WHIP_REFUSALS.get(answer.status_code)
        if answer.status_code in UNAVAILABLE:
            return Unreachable(f"the WHIP endpoint failed: {self._status(answer)}")
        if answer.status_code >= 500:  # simple-whip-server: Janus refused (e.g. a wrong pin)
            return Refused(f"the WHIP endpoint failed: {self._status(answer)}")
        if why is None:
            why = "the publish was not accepted"
        return Refused(f"the WHIP endpoint answered {self._status(answer)}: {why}")

    def _status(self, answer: requests.Response) -> str:
        said = " ".join(answer.text.split())[:200]
        text = f"{answer.status_code} {answer.reason}" + (f" ({said})" if said else "")
        return hide(text, [self.token] if self.token else [])
