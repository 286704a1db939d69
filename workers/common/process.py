"""ManagedProcess: the one wrapper for every child process (ffmpeg, Xvfb, PulseAudio).

Start, wait until ready with a timeout, keep the last stderr lines for the error message,
stop in steps (``q`` on stdin, SIGINT, SIGTERM, SIGKILL), close() safe to call twice.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import logging
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)


_PR_SET_PDEATHSIG = 1
try:  # bound in the parent: the child, between fork and exec, only makes the C call
    _prctl: Any = ctypes.CDLL("libc.so.6", use_errno=True).prctl
except (OSError, AttributeError):
    _prctl = None


def _die_with_parent() -> None:
    """In the child: SIGTERM it when the thread that started it goes (a killed worker).

    Orphans would otherwise go on writing segments for a task another worker now owns.
    """
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ProcessFailed(RuntimeError):
    """A child did not become ready or died; the message ends with its last stderr lines."""


class ManagedProcess:
    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | None = None,
        tail_lines: int = 40,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.cwd = cwd
        self._tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
        self._on_line = on_line
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._lines_seen = threading.Condition()
        self._last_output = time.monotonic()
        self._closed = False

    # ---- lifecycle -------------------------------------------------------------------

    def start(self) -> ManagedProcess:
        log.debug("starting %s: %s", self.name, " ".join(self.argv))
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,  # our signals only; a Ctrl-C of the worker is ours to relay
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - one C call, no Python locks
        )
        self._reader = threading.Thread(target=self._read_stderr, name=f"{self.name}-stderr")
        self._reader.daemon = True
        self._reader.start()
        return self

    def wait_ready(
        self,
        check: Callable[[], bool] | None = None,
        *,
        pattern: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        """Until ``check()`` is true or a stderr line matches ``pattern``."""
        regex = re.compile(pattern) if pattern else None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if check is not None and check():
                return
            if regex is not None and any(regex.search(line) for line in list(self._tail)):
                return
            if not self.alive:
                raise ProcessFailed(self._why(f"{self.name} exited before it was ready"))
            with self._lines_seen:
                self._lines_seen.wait(0.05)
        raise ProcessFailed(self._why(f"{self.name} not ready after {timeout_s:.0f}s"))

    def stop(self, *, grace_s: float = 5.0, quit_key: bool = False) -> int | None:
        """Stop in steps: 'q' on stdin (ffmpeg finishes its file), SIGINT, SIGTERM, SIGKILL."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return self.returncode
        steps: list[Callable[[], None]] = []
        if quit_key:
            steps.append(self._send_quit)
        steps += [
            lambda: self._signal(signal.SIGINT),
            lambda: self._signal(signal.SIGTERM),
            lambda: self._signal(signal.SIGKILL),
        ]
        for step in steps:
            step()
            try:
                proc.wait(timeout=grace_s)
                break
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0fs, escalating", self.name, grace_s)
        proc.wait()
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL now, no step asking it to finish its file; then close().

        For a worker fenced off its task: a graceful stop would let ffmpeg close and list
        one more segment for a task another worker records now.
        """
        self._signal(signal.SIGKILL)
        if self._proc is not None:
            self._proc.wait()
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.stop(grace_s=2.0)
        if self._proc is not None and self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        if self._reader is not None:
            self._reader.join(timeout=2.0)

    # ---- state -----------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc else None

    @property
    def silent_for_s(self) -> float:
        """Seconds since the child last wrote to stderr (a hung ffmpeg stops talking)."""
        return time.monotonic() - self._last_output

    def tail(self) -> list[str]:
        return list(self._tail)

    def failure(self, what: str) -> ProcessFailed:
        return ProcessFailed(self._why(what))

    # ---- internals -------------------------------------------------------------------

    def _why(self, what: str) -> str:
        lines = [line for line in self._tail if line.strip()][-6:]
        code = self.returncode
        detail = f" (exit code {code})" if code is not None else ""
        return f"{what}{detail}" + (": " + " | ".join(lines) if lines else "")

    def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        # ffmpeg ends progress lines with \r: split on both.
        buffer = b""
        while True:
            chunk = os.read(self._proc.stderr.fileno(), 4096)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = re.split(rb"[\r\n]", buffer)
            for raw in lines:
                self._line(raw.decode("utf-8", "replace"))
        if buffer:
            self._line(buffer.decode("utf-8", "replace"))
        with self._lines_seen:
            self._lines_seen.notify_all()

    def _line(self, line: str) -> None:
        if not line:
            return
        self._last_output = time.monotonic()
        self._tail.append(line)
        log.debug("%s: %s", self.name, line)
        if self._on_line is not None:
            self._on_line(line)
        with self._lines_seen:
            self._lines_seen.notify_all()

    def _send_quit(self) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None:
            return
        try:
            proc.stdin.write(b"q")
            proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def _signal(self, signum: int) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signum)
