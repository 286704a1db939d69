"""The URL policy (SSRF): every URL a task makes the farm reach is refused when it
resolves to a loopback, private, link-local or cloud-metadata address, unless
allowlisted (the tests allow 127.0.0.0/8, as the local stack does); redirects too.

At the edge the dispatcher refuses such a Start at once (InvalidParam); in the workers,
the callback never follows a redirect and the pusher checks every hop of videoSrc's.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.pusher_helpers import pusher_request
from workers.common.delivery.callback import deliver
from workers.common.domain.errors import UserFault
from workers.common.pacing.backoff import RetryPolicy
from workers.pusher.source import source_of

pytestmark = pytest.mark.integration

INSIDE = [
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("http://10.0.0.7/page", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://[::1]/", "loopback"),
    ("http://169.254.10.1/", "link-local"),
]


@pytest.fixture
def client(capstan_env):
    from dispatcher.app import create_app

    return create_app(capstan_env).test_client()


def start(client, service: str, data: dict) -> tuple[int, dict]:
    response = client.post(f"/v1/{service}", json={"Action": "Start", "Data": data})
    return response.status_code, response.get_json()


def bodies(url: str) -> list[tuple[str, str, dict]]:
    """(service, field, Start data) putting ``url`` in each URL field the farm reaches."""
    recorder = {"SdkAppId": 1400000000, "RoomId": 1, "UserId": "u", "UserSig": "sig"}
    return [
        ("panorama", "RecordURL", {"RecordURL": url}),
        ("panorama", "CallbackURL", {"RecordURL": "http://127.0.0.1:9/", "CallbackURL": url}),
        ("recorder", "Callback", {**recorder, "Callback": url}),
        ("pusher", "videoSrc", pusher_request(url, "u")),
    ]


@pytest.mark.parametrize(("url", "kind"), INSIDE, ids=[k for _, k in INSIDE])
def test_the_edge_refuses_every_url_field_pointing_inside(client, url, kind):
    for service, field, data in bodies(url):
        status, answer = start(client, service, data)
        assert status == 400, (service, field, answer)
        assert answer["ErrorCode"] == "InvalidParam"
        assert answer["ErrorMessage"].startswith(f"{field} ")
        assert kind in answer["ErrorMessage"]


def test_the_edge_lets_allowlisted_addresses_through(client):
    for service, field, data in bodies("http://127.0.0.1:9/ok"):
        status, answer = start(client, service, data)
        assert status == 200, (service, field, answer)


class Redirector:
    """A server on 127.0.0.1 (allowlisted) answering every request with a redirect."""

    def __init__(self, location: str) -> None:
        self.hits: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def _redirect(self) -> None:
                outer.hits.append(f"{self.command} {self.path}")
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_HEAD = _redirect

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/start"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def redirector():
    servers: list[Redirector] = []

    def make(location: str) -> Redirector:
        servers.append(Redirector(location))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def test_a_callback_is_never_redirected_inside(capstan_env, redirector):
    server = redirector("http://169.254.169.254/latest/meta-data/")
    attempts: list[dict] = []
    policy = RetryPolicy(window_s=0.5, first_backoff_s=0.2)
    delivery = deliver(
        server.url, {"TaskID": "t"}, secret="", policy=policy, timeout_s=2,
        allowlist=capstan_env.url_allowlist, record_attempt=attempts.append,
    )  # fmt: skip
    assert not delivery.ok and delivery.last_error == "HTTP 302"
    assert all(hit.startswith("POST /start") for hit in server.hits)  # only the first hop


@pytest.mark.parametrize("inside", ["http://169.254.169.254/x.mp4", "http://10.1.2.3/x.mp4"])
def test_a_video_src_redirecting_inside_is_refused_before_ffmpeg_sees_it(
    capstan_env, redirector, inside
):
    server = redirector(inside)
    source = source_of(server.url, capstan_env)
    with pytest.raises(UserFault) as refused:
        source.url()
    assert refused.value.code == "SourceUnavailable"
    assert f"redirects to {inside}" in str(refused.value)


def test_a_video_src_redirecting_to_an_allowed_place_is_followed(capstan_env, redirector):
    final = redirector("http://127.0.0.1:9/file.mp4")
    first = redirector(final.url)
    assert source_of(first.url, capstan_env).url() == "http://127.0.0.1:9/file.mp4"
