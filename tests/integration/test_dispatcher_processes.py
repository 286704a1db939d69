"""The dispatcher's server processes share the connections a client opens at once, against a
real server (dispatcher/serve.py) and Redis: under gunicorn's threaded worker a burst of
kept-alive connections (wrk, a load balancer's pool) once landed 31 of 32 on one process, so
one core served them all while the others idled."""

from __future__ import annotations

import re
import socket
import subprocess
from collections import Counter

import pytest

pytestmark = pytest.mark.integration

WORKERS = 3
CONNECTIONS = 32
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
    dispatcher = farm_process("dispatcher", env={"CAPSTAN_DISPATCHER_WORKERS": str(WORKERS)})
    port = settings.port
    conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(CONNECTIONS)]
    try:
        # Every connection is answered, kept alive, by one of the processes
        for conn in conns:
            assert answer(conn).startswith(b"HTTP/1.1 200"), dispatcher.tail()
        held = owners(port)
        assert sum(held.values()) == CONNECTIONS and not held[""], held
        # and every process has its share: none holds two thirds (seen: 7 to 15 of 32 each)
        assert len(held) == WORKERS, (held, dispatcher.tail())
        assert max(held.values()) <= CONNECTIONS * 2 // 3, held
    finally:
        for conn in conns:
            conn.close()
