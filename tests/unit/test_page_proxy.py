"""The page proxy, as Chromium talks to it: plain http in absolute form, CONNECT tunnels.

Two origin servers: 127.0.0.1 (allowlisted) and 127.0.0.2 (loopback too, but not
allowlisted: the whole 127/8 answers on Linux). A refused request never reaches its
server and is counted; an allowed one is streamed through.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workers.common.domain import urlpolicy
from workers.panorama import proxy as page_proxy
from workers.panorama.proxy import PageProxy

ALLOWED = "127.0.0.1"
FORBIDDEN = "127.0.0.2"


class Origin:
    """An HTTP server that answers GET with its name and echoes a POST's body."""

    def __init__(self, host: str) -> None:
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive unless told: the proxy must close

            def log_message(self, *_: object) -> None:
                pass

            def do_GET(self) -> None:
                outer.requests.append(f"GET {self.path}")
                self._send(f"hello from {host}".encode())

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append(f"POST {self.path}")
                self._send(body[::-1])

            def _send(self, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.server.server_address[1]
        self.authority = f"{host}:{self.port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def origins() -> Iterator[tuple[Origin, Origin]]:
    allowed, forbidden = Origin(ALLOWED), Origin(FORBIDDEN)
    yield allowed, forbidden
    allowed.close()
    forbidden.close()


@pytest.fixture
def proxy() -> Iterator[PageProxy]:
    started = PageProxy([f"{ALLOWED}/32"]).start()
    yield started
    started.close()


def exchange(proxy: PageProxy, request: bytes) -> bytes:
    """Send raw bytes to the proxy; everything it answers until it closes."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        sock.sendall(request)
        return read_all(sock)


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def get(authority: str, path: str = "/x?secret=1") -> bytes:
    return f"GET http://{authority}{path} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode()


def test_an_allowed_request_is_forwarded_in_origin_form_and_closed(proxy, origins):
    allowed, _ = origins
    answer = exchange(proxy, get(allowed.authority))
    assert answer.startswith(b"HTTP/1.1 200")
    assert b"Connection: close" in answer  # Chromium never reuses the connection
    assert answer.endswith(f"hello from {ALLOWED}".encode())
    assert allowed.requests == ["GET /x?secret=1"]
    assert proxy.blocked == 0


def test_a_request_to_a_forbidden_address_gets_403_and_never_reaches_it(proxy, origins, caplog):
    _, forbidden = origins
    answer = exchange(proxy, get(forbidden.authority))
    assert answer.startswith(b"HTTP/1.1 403 Refused by the URL policy")
    assert f"X-Capstan-Proxy-Error: {FORBIDDEN} resolves to {FORBIDDEN}".encode() in answer
    assert b"loopback" in answer
    assert forbidden.requests == []
    assert proxy.blocked == 1
    assert FORBIDDEN in caplog.text and "secret" not in caplog.text  # the host only


def test_a_connect_tunnel_is_checked_the_same_way(proxy, origins):
    allowed, forbidden = origins
    refused = exchange(proxy, f"CONNECT {forbidden.authority} HTTP/1.1\r\n\r\n".encode())
    assert refused.startswith(b"HTTP/1.1 403")
    assert proxy.blocked == 1

    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        sock.sendall(f"CONNECT {allowed.authority} HTTP/1.1\r\n\r\n".encode())
        assert sock.recv(1024).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /t HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_all(sock).endswith(f"hello from {ALLOWED}".encode())
    assert allowed.requests == ["GET /t"]


def test_a_request_body_is_streamed_to_the_origin(proxy, origins):
    allowed, _ = origins
    body = b"0123456789" * 20000  # more than one read
    head = (
        f"POST http://{allowed.authority}/up HTTP/1.1\r\nHost: {allowed.authority}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    answer = exchange(proxy, head + body)
    assert answer.endswith(body[::-1])


def test_the_host_is_resolved_once_and_the_checked_address_is_the_one_connected(
    proxy, origins, monkeypatch
):
    allowed, _ = origins
    lookups: list[str] = []
    real = urlpolicy.resolve

    def resolve(host: str):
        lookups.append(host)
        return real(ALLOWED) if host == "page.test" else real(host)

    monkeypatch.setattr(urlpolicy, "resolve", resolve)
    answer = exchange(proxy, get(f"page.test:{allowed.port}"))
    assert answer.endswith(f"hello from {ALLOWED}".encode())
    assert lookups == ["page.test"]


def test_unreachable_hosts_are_a_bad_gateway_with_chromiums_error_not_a_refusal(proxy):
    answer = exchange(proxy, get("no-such-host.invalid:80"))
    assert answer.startswith(b"HTTP/1.1 502")
    assert b"X-Capstan-Proxy-Error: net::ERR_NAME_NOT_RESOLVED" in answer
    with socket.socket() as closed:
        closed.bind((ALLOWED, 0))  # a port nobody listens on
        answer = exchange(proxy, get(f"{ALLOWED}:{closed.getsockname()[1]}"))
    assert b"X-Capstan-Proxy-Error: net::ERR_CONNECTION_REFUSED" in answer
    assert proxy.blocked == 0


def test_only_http_urls_and_connect_are_proxied(proxy):
    assert exchange(proxy, b"GET ftp://127.0.0.1/ HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert exchange(proxy, b"GET /relative HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert exchange(proxy, b"CONNECT nowhere HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 400")


def test_connections_beyond_the_limit_are_turned_away(origins, monkeypatch):
    allowed, _ = origins
    bounded = PageProxy([f"{ALLOWED}/32"], max_connections=1).start()
    try:
        with socket.create_connection(("127.0.0.1", bounded.port), timeout=10) as holder:
            holder.sendall(f"CONNECT {allowed.authority} HTTP/1.1\r\n\r\n".encode())
            assert holder.recv(1024).startswith(b"HTTP/1.1 200")  # holds the only slot
            assert exchange(bounded, get(allowed.authority)).startswith(b"HTTP/1.1 503")
    finally:
        bounded.close()


def test_an_oversized_head_is_refused(proxy, monkeypatch):
    monkeypatch.setattr(page_proxy, "MAX_HEAD_BYTES", 1024)
    answer = exchange(proxy, b"GET http://127.0.0.1/ HTTP/1.1\r\nX: " + b"a" * 4096)
    assert answer.startswith(b"HTTP/1.1 431")


def test_close_cuts_open_tunnels(origins):
    allowed, _ = origins
    started = PageProxy([f"{ALLOWED}/32"]).start()
    with socket.create_connection(("127.0.0.1", started.port), timeout=10) as sock:
        sock.sendall(f"CONNECT {allowed.authority} HTTP/1.1\r\n\r\n".encode())
        assert sock.recv(1024).startswith(b"HTTP/1.1 200")
        started.close()
        assert read_all(sock) == b""  # closed by the proxy, not by the timeout
