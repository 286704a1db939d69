"""Small threaded HTTP servers for the tests: a callback receiver and a static file server."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.tools import wait_until


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _serve(handler: Any, host: str = "127.0.0.1") -> tuple[_Server, threading.Thread]:
    server = _Server((host, 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return server, thread


@dataclass
class Callback:
    """One POST the receiver got."""

    path: str
    headers: dict[str, str]
    raw: bytes
    time: float
    status: int | None  # what we answered; None when we never did
    json: Any = field(default=None)


class CallbackReceiver:
    """Records every POST. Modes: answer 200 (default), fail_first(n), never_answer(seconds)."""

    def __init__(self) -> None:
        self.received: list[Callback] = []
        self._lock = threading.Lock()
        self._failures_left = 0
        self._fail_status = 500
        self._hang_s = 0.0
        self._closing = threading.Event()
        self._server, self._thread = _serve(partial(_CallbackHandler, self))
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/callback"

    def answer_ok(self) -> None:
        with self._lock:
            self._failures_left, self._hang_s = 0, 0.0

    def fail_first(self, count: int, status: int = 500) -> None:
        with self._lock:
            self._failures_left, self._fail_status = count, status

    def never_answer(self, seconds: float = 60.0) -> None:
        """Hold each request this long (past the client's timeout), then drop it."""
        with self._lock:
            self._hang_s = seconds

    def wait_for(self, count: int = 1, timeout: float = 30.0) -> list[Callback]:
        wait_until(lambda: len(self.received) >= count, timeout, 0.05, f"{count} callback(s)")
        return list(self.received)

    def close(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()

    def _decide(self) -> tuple[int | None, float]:
        with self._lock:
            if self._hang_s:
                return None, self._hang_s
            if self._failures_left:
                self._failures_left -= 1
                return self._fail_status, 0.0
            return 200, 0.0

    def _record(self, entry: Callback) -> None:
        with self._lock:
            self.received.append(entry)


class _CallbackHandler(BaseHTTPRequestHandler):
    def __init__(self, receiver: CallbackReceiver, *args: Any) -> None:
        self.receiver = receiver
        super().__init__(*args)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, hang = self.receiver._decide()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        entry = Callback(self.path, dict(self.headers.items()), raw, time.time(), status, body)
        self.receiver._record(entry)
        if status is None:
            self.receiver._closing.wait(hang)
            self.close_connection = True
            return
        payload = b'{"code": 0}' if status == 200 else b'{"error": "test receiver failure"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class _RangeHandler(SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler plus single byte ranges (206 / 416), quiet."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def send_head(self) -> Any:
        match = _RANGE.match(self.headers.get("Range", "").strip())
        path = Path(self.translate_path(self.path))
        if not match or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        first, last = _byte_range(match, size)
        if first is None or last is None:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        source = path.open("rb")
        source.seek(first)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Content-Length", str(last - first + 1))
        self.end_headers()
        return _Limited(source, last - first + 1)

    def copyfile(self, source: Any, outputfile: Any) -> None:
        if isinstance(source, _Limited):
            source.copy_to(outputfile)
        else:
            super().copyfile(source, outputfile)


def _byte_range(match: re.Match[str], size: int) -> tuple[int | None, int | None]:
    start, end = match.groups()
    if not start and not end:
        return None, None
    if not start:  # the last N bytes
        first, last = max(size - int(end), 0), size - 1
    else:
        first, last = int(start), min(int(end) if end else size - 1, size - 1)
    if first >= size or first > last:
        return None, None
    return first, last


class _Limited:
    def __init__(self, source: Any, length: int) -> None:
        self.source, self.length = source, length

    def copy_to(self, out: Any) -> None:
        left = self.length
        while left > 0:
            chunk = self.source.read(min(left, 64 * 1024))
            if not chunk:
                break
            out.write(chunk)
            left -= len(chunk)

    def close(self) -> None:
        self.source.close()


class StaticServer:
    """Serves a directory on a free port of ``host``; .url_for("page.html")."""

    def __init__(self, directory: Path, host: str = "127.0.0.1") -> None:
        self.directory = Path(directory)
        handler = partial(_RangeHandler, directory=str(self.directory))
        self._server, self._thread = _serve(handler, host)
        self.port = self._server.server_address[1]
        self.url = f"http://{host}:{self.port}"

    def url_for(self, relative: str) -> str:
        return f"{self.url}/{relative.lstrip('/')}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
