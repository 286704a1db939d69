"""The publisher's WHIP client against a tiny real HTTP server answering as told: what each
answer means (201 joined, 401/403/404 refused, 5xx or nothing unreachable), the DELETE of
the Location on hang-up, and the token in no message."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.tools import free_port
from workers.pusher.signalling import Refused, Unreachable, WhipSignalling
from workers.pusher.webrtc_publisher import parse

TOKEN = "user-sig-secret-5e1d"
OFFER = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"
ANSWER = "v=0\r\no=answer 2 2 IN IP4 127.0.0.1\r\n"


class Endpoint(BaseHTTPRequestHandler):
    """Answers POST with the server's .status, .location and .body; records every request."""

    server: WhipTestServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.server.seen.append(("POST", self.path, dict(self.headers), self.rfile.read(length)))
        self.send_response(self.server.status)
        if self.server.location:
            self.send_header("Location", self.server.location)
        body = self.server.body.encode()
        self.send_header("Content-Type", "application/sdp")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_DELETE(self) -> None:
        self.server.seen.append(("DELETE", self.path, dict(self.headers), b""))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class WhipTestServer(ThreadingHTTPServer):
    status = 201
    location = "/whip/resource/alice"
    body = ANSWER
    seen: list[tuple[str, str, dict[str, str], bytes]]


@pytest.fixture
def server() -> Iterator[WhipTestServer]:
    httpd = WhipTestServer(("127.0.0.1", 0), Endpoint)
    httpd.seen = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def endpoint(server: WhipTestServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/whip/endpoint/alice"


def test_a_201_is_the_answer_and_hang_up_deletes_the_location(server):
    whip = WhipSignalling(endpoint(server), TOKEN, timeout_s=5)
    assert whip.offer(OFFER) == ANSWER
    whip.hang_up()
    whip.hang_up()  # idempotent: one DELETE
    (post, path, headers, body), (delete, resource, delete_headers, _) = server.seen
    assert (post, path, body.decode()) == ("POST", "/whip/endpoint/alice", OFFER)
    assert headers["Content-Type"] == "application/sdp"
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert (delete, resource) == ("DELETE", "/whip/resource/alice")  # relative Location resolved
    assert delete_headers["Authorization"] == f"Bearer {TOKEN}"


def test_no_token_no_authorization_header(server):
    WhipSignalling(endpoint(server), "", timeout_s=5).offer(OFFER)
    assert "Authorization" not in server.seen[0][2]


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (401, "answered 401 Unauthorized"),
        (403, "answered 403 Forbidden"),
        (404, "answered 404 Not Found"),
        (406, "answered 406 Not Acceptable"),
    ],
)
def test_a_4xx_is_a_refusal_saying_the_status_and_why(server, status, said):
    server.status, server.location, server.body = status, "", f"no, {TOKEN} will not do"
    with pytest.raises(Refused) as refused:
        WhipSignalling(endpoint(server), TOKEN, timeout_s=5).offer(OFFER)
    message = str(refused.value)
    assert said in message and TOKEN not in message
    why = {401: "the token was refused", 403: "the token was refused",
           404: "no such WHIP endpoint", 406: "the publish was not accepted"}[status]  # fmt: skip
    assert why in message


def test_a_201_without_a_location_is_refused(server):
    server.location = ""
    with pytest.raises(Refused, match="201"):
        WhipSignalling(endpoint(server), TOKEN, timeout_s=5).offer(OFFER)


def test_an_unavailable_server_is_unreachable(server):
    server.status, server.location, server.body = 503, "", "Janus unavailable"
    with pytest.raises(Unreachable, match=re.escape("503 Service Unavailable (Janus unavailable)")):
        WhipSignalling(endpoint(server), TOKEN, timeout_s=5).offer(OFFER)


def test_nothing_listening_is_unreachable():
    url = f"http://127.0.0.1:{free_port()}/whip/endpoint/alice"
    with pytest.raises(Unreachable, match="refused the connection"):
        WhipSignalling(url, TOKEN, timeout_s=5).offer(OFFER)


@pytest.mark.parametrize(
    "argv",
    [
        ["--whip", "http://h/whip/endpoint/a", "--room", "1"],
        ["--whip", "http://h/whip/endpoint/a", "--janus", "http://h/janus"],
        ["--janus", "http://h/janus", "--room", "1"],  # no --display
        [],
    ],
)
def test_one_way_to_publish_is_given(argv, capsys):
    with pytest.raises(SystemExit):
        parse(["--media", "tcp://127.0.0.1:1", "--video", *argv])
    assert "--whip" in capsys.readouterr().err


def test_whip_needs_no_room_nor_display():
    args = parse(["--media", "tcp://127.0.0.1:1", "--audio", "--whip", "http://h/whip/endpoint/a"])
    assert args.whip == "http://h/whip/endpoint/a" and args.display is None


def test_a_server_error_that_is_not_unavailability_is_a_refusal(server):
    # simple-whip-server answers 500 when Janus refuses the publish (a wrong pin)
    server.status, server.location, server.body = 500, "", "Unauthorized (wrong pin)"
    with pytest.raises(Refused, match=re.escape("500 Internal Server Error")):
        WhipSignalling(endpoint(server), TOKEN, timeout_s=5).offer(OFFER)
