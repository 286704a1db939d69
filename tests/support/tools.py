"""Finding what a test needs: tools on this machine, free ports, waiting."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from deploy.local.stack import RTMP_MODULE

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"


def in_ci() -> bool:
    return os.environ.get("CI") == "true"


def _find(tool: str) -> str | None:
    if tool == "nginx-rtmp":
        nginx = _find("nginx")
        return nginx if nginx and RTMP_MODULE.exists() else None
    if tool.startswith("python:"):
        spec = importlib.util.find_spec(tool.removeprefix("python:"))
        return spec.origin if spec else None
    return shutil.which(tool) or shutil.which(tool, path=f"{VENV_BIN}:/usr/sbin:/sbin")


def require(tool: str) -> str:
    """The path of a binary ("ffmpeg"), a module ("python:moto") or "nginx-rtmp".

    Missing: the test skips on a laptop, and fails under CI=true (nothing goes untested in CI).
    """
    found = _find(tool)
    if found:
        return found
    missing(f"{tool} is not installed (make install)")
    raise AssertionError("unreachable")


# What a panorama task runs (workers/panorama/stack.py), and what its tests read with.
BROWSER_STACK = ("Xvfb", "pulseaudio", "parec", "pactl", "chromium", "ffmpeg", "ffprobe",
                 "python:playwright")  # fmt: skip


def require_browser_stack() -> None:
    for tool in BROWSER_STACK:
        require(tool)


def missing(message: str) -> None:
    """Skip on a laptop; under CI=true a missing component is a failure."""
    if in_ci():
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.1, what: str = ""
) -> object:
    """The first truthy value of predicate(); AssertionError after the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)
