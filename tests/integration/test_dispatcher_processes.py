"""The dispatcher's server processes, against a real server (dispatcher/serve.py) and Redis:
they share the connections a client opens at once (under gunicorn's threaded worker a burst
of kept-alive connections, as wrk or a load balancer's pool opens, once landed 31 of 32 on
one process, so one core served them all while the others idled), and /metrics counts the
requests that every one of them answered."""

from __future__ import annotations

import re
import socket
import subprocess
from collections import Counter

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support.tools import wait_until

pytestmark = pytest.mark.integration

WORKERS = 3
CONNECTIONS = 32
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: capstan\r\n\r\n"
NOT_JSON = b"POST /v1/panorama HTTP/1.1\r\nHost: capstan\r\nContent-Length: 4\r\n\r\nnope"


def owners(port: int) -> Counter[str]:
    """How many of the connections to ``port`` each process has accepted ("" for one the
    kernel still holds in the listening socket's queue)."""
    rows = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    found = (re.search(r"pid=(\d+)", row) for row in rows)
    return Counter(match.group(1) if match else "" for match in found)


def all_processes_serving(dispatcher) -> None:
    """The server is ready once one process answers; wait for all of them (granian logs
    ``Started worker-N`` as each one begins serving)."""

    def started() -> bool:
        text = dispatcher.log.read_text(errors="replace")
        return all(f"Started worker-{n}" in text for n in range(1, WORKERS + 1))

    wait_until(started, 30, 0.1, f"{WORKERS} server processes serving")


def answer(conn: socket.socket, request: bytes = HEALTHZ) -> bytes:
    conn.sendall(request)
    conn.settimeout(10)
    return conn.recv(4096)


def test_connections_opened_at_once_spread_over_the_processes(settings, farm_process):
    dispatcher = farm_process("dispatcher", env={"CAPSTAN_DISPATCHER_WORKERS": str(WORKERS)})
    all_processes_serving(dispatcher)
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


def refused_requests_counted(url: str) -> float:
    text = requests.get(f"{url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "capstan_dispatcher_requests"
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels["code"] == "400"
    )


def test_metrics_count_the_requests_of_every_process(settings, farm_process):
    dispatcher = farm_process("dispatcher", env={"CAPSTAN_DISPATCHER_WORKERS": str(WORKERS)})
    all_processes_serving(dispatcher)
    conns = [socket.create_connection(("127.0.0.1", settings.port)) for _ in range(CONNECTIONS)]
    try:
        for conn in conns:
            assert answer(conn, NOT_JSON).startswith(b"HTTP/1.1 400"), dispatcher.tail()
        assert len(owners(settings.port)) == WORKERS  # answered by every process
    finally:
        for conn in conns:
            conn.close()
    assert refused_requests_counted(dispatcher.url) == CONNECTIONS
