"""The dispatcher's gunicorn processes share the connections a client opens at once
(dispatcher/fair_worker.py), against a real gunicorn and Redis: a burst of kept-alive
connections (wrk, a load balancer's pool) once landed 31 of 32 on one process, one core."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections import Counter

import pytest

pytestmark = pytest.mark.integration

WORKERS = 3
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: capstan\r\n\r\n"


def owners(port: int) -> Counter[str]:
    """How many of the connections to ``port`` each process has accepted ("" for one the
    kernel still holds in the listening socket's queue)."""
    rows = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    found = (re.search(r"pid=(\d+)", row) for row in rows)
    return Counter(match.group(1) if match else "" for match in found)


def answer(conn: socket.socket) -> bytes:
    conn.sendall(HEALTHZ)
    conn.settimeout(10)
    return conn.recv(4096)


def test_connections_opened_at_once_spread_over_the_processes(settings, farm_process):
    dispatcher = farm_process(
        "dispatcher", env={"GUNICORN_CMD_ARGS": f"--workers {WORKERS} --threads 2"}
    )
    port = settings.port
    # Opened together and silent: a process that took one waits for its request before it
    # takes another, so each takes exactly one and the fourth waits for a finished request.
    conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(WORKERS + 1)]
    try:
        deadline = time.monotonic() + 3
        held = owners(port)
        while sum(n for pid, n in held.items() if pid) < WORKERS and time.monotonic() < deadline:
            time.sleep(0.05)
            held = owners(port)
        by_process = {pid: n for pid, n in held.items() if pid}
        assert sorted(by_process.values()) == [1] * WORKERS, (held, dispatcher.tail())
        assert held[""] == 1, held

        # Nothing is lost: every connection, the one that waited too, is answered.
        for conn in conns:
            assert answer(conn).startswith(b"HTTP/1.1 200"), dispatcher.tail()
        assert sum(owners(port).values()) == WORKERS + 1
    finally:
        for conn in conns:
            conn.close()
