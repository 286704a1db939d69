"""The page's forward proxy: every request the recorded page makes passes the URL policy.

Chromium sends all of its traffic here (--proxy-server, loopback included): plain http as
absolute-URI requests, https and WebSockets as CONNECT tunnels. Each request (so each
redirect hop, each iframe, each fetch) names a host; the proxy resolves it once, refuses
it (403) when an address is loopback, private, link-local or metadata and not
allowlisted, and otherwise connects to the very address it checked: no second lookup,
no DNS-rebinding window. Bytes are streamed both ways, never buffered whole.

One proxy per task, threaded, bounded: at most MAX_CONNECTIONS at once, timeouts on
the request head, on connecting and on an idle connection.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import socketserver
import threading
from collections.abc import Iterable
from urllib.parse import urlsplit

from workers.common.domain import urlpolicy

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 128
MAX_HEAD_BYTES = 64 * 1024
HEAD_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0
LOGGED_REFUSALS = 20  # then every 100th
IDLE_TIMEOUT_S = 300.0  # a quiet WebSocket or long poll; a stalled one ends
ERROR_HEADER = "X-Capstan-Proxy-Error"  # on the proxy's own answers: why, in one line
_CHUNK = 64 * 1024
_HOP_HEADERS = {b"connection", b"keep-alive", b"proxy-connection", b"proxy-authorization"}


class Refused(Exception):
    """Answer the page with this status and text instead of forwarding; the text is
    Chromium's net:: error where there is one (RecordURL's load failure quotes it)."""

    def __init__(self, status: int, reason: str, text: str) -> None:
        super().__init__(text)
        self.status, self.reason, self.text = status, reason, text


class PageProxy:
    """``start()`` on a free loopback port; ``.server`` is Chromium's --proxy-server."""

    def __init__(self, allowlist: Iterable[str], max_connections: int = MAX_CONNECTIONS) -> None:
        self.allowlist = tuple(allowlist)
        self.slots = threading.BoundedSemaphore(max_connections)
        self.blocked = 0  # requests refused by the URL policy
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._server: _Server | None = None

    def start(self) -> PageProxy:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        name = f"page-proxy:{self.port}"
        threading.Thread(
            target=self._server.serve_forever, args=(0.2,), name=name, daemon=True
        ).start()
        return self

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def server(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count_blocked(self, host: str, why: str) -> None:
        with self._lock:
            self.blocked += 1
            count = self.blocked
        if count <= LOGGED_REFUSALS or count % 100 == 0:  # a hostile page cannot flood the log
            log.warning("page request to %s refused (%d so far): %s", host, count, why)  # no path

    def track(self, sock: socket.socket, open_: bool) -> None:
        with self._lock:
            (self._sockets.add if open_ else self._sockets.discard)(sock)

    def close(self) -> None:
        """Stop accepting and cut every open connection (their threads then end)."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.shutdown()
        server.server_close()
        with self._lock:
            sockets, self._sockets = list(self._sockets), set()
        for sock in sockets:
            _shut(sock)

    # ---- the policy ------------------------------------------------------------------

    def connect(self, host: str, port: int) -> socket.socket:
        """Resolve ``host`` once, check every address, connect to a checked one."""
        try:
            addresses = urlpolicy.resolve(host)
        except urlpolicy.UrlRefused:
            raise Refused(502, "Bad Gateway", "net::ERR_NAME_NOT_RESOLVED") from None
        why = urlpolicy.refusal(addresses, self.allowlist)
        if why:
            self.count_blocked(host, why)
            raise Refused(403, "Refused by the URL policy", f"{host} {why}")
        error = "net::ERR_CONNECTION_FAILED"
        for address in addresses:
            try:
                return socket.create_connection((str(address), port), CONNECT_TIMEOUT_S)
            except ConnectionRefusedError:
                error = "net::ERR_CONNECTION_REFUSED"
            except TimeoutError:
                error = "net::ERR_CONNECTION_TIMED_OUT"
            except OSError:
                pass
        raise Refused(502, "Bad Gateway", error)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
    proxy: PageProxy


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        proxy, client = self.server.proxy, self.request
        if not proxy.slots.acquire(blocking=False):
            _answer(client, Refused(503, "Service Unavailable", "too many connections"))
            return
        proxy.track(client, True)
        try:
            self._serve(proxy, client)
        except Refused as refused:
            _answer(client, refused)
        except OSError as exc:
            log.debug("page proxy: %s", exc)
        finally:
            proxy.track(client, False)
            proxy.slots.release()

    def _serve(self, proxy: PageProxy, client: socket.socket) -> None:
        client.settimeout(HEAD_TIMEOUT_S)
        head, rest = read_head(client)
        method, target, version, headers = parse_head(head)
        if method == b"CONNECT":
            host, port = split_authority(target.decode("latin-1"))
            upstream = proxy.connect(host, port)
            client.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            _pipe(proxy, client, upstream, rest, rewrite_response=False)
            return
        url = urlsplit(target.decode("latin-1"))
        if url.scheme != "http" or not url.hostname:
            raise Refused(400, "Bad Request", "only http:// URLs or CONNECT")
        upstream = proxy.connect(url.hostname, url.port or 80)
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        upstream.sendall(origin_request(method, path.encode("latin-1"), version, headers) + rest)
        _pipe(proxy, client, upstream, b"", rewrite_response=True)


# ---- HTTP heads ------------------------------------------------------------------------


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """The request head (without its blank line) and whatever body bytes came with it."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD_BYTES:
            raise Refused(431, "Request Header Fields Too Large", "request head too large")
        chunk = sock.recv(_CHUNK)
        if not chunk:
            raise ConnectionError("closed before a request")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def parse_head(head: bytes) -> tuple[bytes, bytes, bytes, list[bytes]]:
    """(method, target, version, header lines) of a request head."""
    line, *headers = head.split(b"\r\n")
    parts = line.split()
    if len(parts) != 3:
        raise Refused(400, "Bad Request", "bad request line")
    return parts[0], parts[1], parts[2], headers


def split_authority(authority: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' of a CONNECT."""
    host, sep, port = authority.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise Refused(400, "Bad Request", "CONNECT needs host:port")
    return host.strip("[]"), int(port)


def origin_request(method: bytes, path: bytes, version: bytes, headers: list[bytes]) -> bytes:
    """The request as the origin server gets it: its path, no proxy headers, one request."""
    kept = [h for h in headers if h.split(b":", 1)[0].strip().lower() not in _HOP_HEADERS]
    return b"\r\n".join([method + b" " + path + b" " + version, *kept, b"Connection: close"]) + (
        b"\r\n\r\n"
    )


def close_response_head(head: bytes) -> bytes:
    """The response head with Connection: close: Chromium never sends a second request
    (perhaps for another host) down a connection already tied to this one's address."""
    line, *headers = head.split(b"\r\n")
    kept = [h for h in headers if h.split(b":", 1)[0].strip().lower() not in _HOP_HEADERS]
    return b"\r\n".join([line, *kept, b"Connection: close"]) + b"\r\n\r\n"


# ---- streaming -------------------------------------------------------------------------


def _pipe(
    proxy: PageProxy, client: socket.socket, upstream: socket.socket, first: bytes, *,
    rewrite_response: bool,
) -> None:  # fmt: skip
    """Copy both ways until both sides are done or nothing moves for IDLE_TIMEOUT_S."""
    proxy.track(upstream, True)
    try:
        if first:
            upstream.sendall(first)
        _relay(client, upstream, rewrite_response)
    finally:
        proxy.track(upstream, False)
        _shut(upstream)


def _relay(client: socket.socket, upstream: socket.socket, rewrite_response: bool) -> None:
    peer = {client: upstream, upstream: client}
    open_ = [client, upstream]
    head = b"" if rewrite_response else None  # the response head, until it is complete
    for sock in open_:
        sock.settimeout(IDLE_TIMEOUT_S)
    while open_:
        readable, _, _ = select.select(open_, [], [], IDLE_TIMEOUT_S)
        if not readable:
            return  # idle
        for sock in readable:
            data = sock.recv(_CHUNK)
            if sock is upstream and head is not None and data:
                head += data
                if b"\r\n\r\n" not in head and len(head) <= MAX_HEAD_BYTES:
                    continue
                top, sep, body = head.partition(b"\r\n\r\n")
                data, head = (close_response_head(top) + body) if sep else head, None
            if data:
                peer[sock].sendall(data)
                continue
            open_.remove(sock)
            if sock is upstream:
                return  # the origin is done (the tunnel or the one response)
            _half_close(upstream)


def _half_close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def _answer(client: socket.socket, refused: Refused) -> None:
    body = f"capstan page proxy: {refused.text}\n".encode("utf-8", "replace")
    head = (
        f"HTTP/1.1 {refused.status} {refused.reason}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"{ERROR_HEADER}: {refused.text}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    with contextlib.suppress(OSError):
        client.sendall(head.encode("latin-1") + body)
