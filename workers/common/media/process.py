"""ManagedProcess: the one wrapper for every child process, the farm's (ffmpeg, Xvfb,
PulseAudio) and the local farm's components (deploy.local.process.Child runs them with it).

Start, wait until ready with a timeout, keep the last output lines for the error message,
stop in steps, close() safe to call twice. Each child leads its own process group, so a
Ctrl-C in a terminal reaches only us, and SIGKILL can reach whatever the child started.

Output goes either to a pipe read line by line (stderr: the tail kept in memory, on_line
called, silence measured) or, given ``log_file``, straight into it (stdout and stderr,
appended; the tail read back from it), which goes on being written if we die.
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
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any

from workers.common.domain import redaction

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
    """A child did not become ready or died; the message ends with its last output lines."""


class ExitedBeforeReady(ProcessFailed):
    pass


class NotReadyInTime(ProcessFailed):
    pass


@dataclass(frozen=True)
class StopSteps:
    """How a child is asked to stop: each signal in turn, a grace apart, then SIGKILL to its
    group. ``group``: the asking signals go to the whole group, or to the leader alone.
    ``sweep``: SIGKILL the group even once the leader has exited (what it left behind)."""

    signals: tuple[signal.Signals, ...]
    group: bool
    sweep: bool


# ffmpeg, Xvfb, PulseAudio: SIGINT lets ffmpeg finish its file (a 'q' on stdin first, when asked).
MEDIA_TOOL = StopSteps((signal.SIGINT, signal.SIGTERM), group=True, sweep=False)
# A Celery worker drains its tasks and granian its requests on SIGTERM to the leader alone;
# the forks they leave are then killed with the group.
SERVICE = StopSteps((signal.SIGTERM,), group=False, sweep=True)


class ManagedProcess:
    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: str | Path | None = None,
        tail_lines: int = 40,
        on_line: Callable[[str], None] | None = None,
        log_file: Path | None = None,
        stop_steps: StopSteps = MEDIA_TOOL,
        die_with_parent: bool = True,
        secrets: Sequence[str] = (),
    ) -> None:
        if on_line is not None and log_file is not None:
            raise ValueError("on_line reads the stderr pipe; with a log file there is none")
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.cwd = cwd
        self.log_file = log_file
        self.stop_steps = stop_steps
        self.die_with_parent = die_with_parent
        self._tail_lines = tail_lines
        # Credentials in the command line (a stream key, a UserSig): hidden in every line
        # this wrapper shows (debug log, log file header, tail, failure messages).
        self._secrets = list(secrets)
        self._tail: collections.deque[str] = collections.deque(maxlen=tail_lines)
        self._on_line = on_line
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._lines_seen = threading.Condition()
        self._last_output = time.monotonic()
        self._group_killed = False
        self._closed = False

    # ---- lifecycle -------------------------------------------------------------------

    def start(self) -> ManagedProcess:
        log.debug("starting %s: %s", self.name, self.hide(" ".join(self.argv)))
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.PIPE,  # for the 'q' that lets ffmpeg finish its file
            **self._output(),
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,  # our signals only; a Ctrl-C of the worker is ours to relay
            preexec_fn=self._preexec(),  # noqa: PLW1509 - one C call, no Python locks
        )
        if self._log is None:
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
        interval_s: float = 0.05,
    ) -> None:
        """Until ``check()`` is true or an output line matches ``pattern``; a child that
        exits first is never ready."""
        regex = re.compile(pattern) if pattern else None
        deadline = time.monotonic() + timeout_s
        while True:
            if not self.alive:
                self._drain_output()
                raise ExitedBeforeReady(self._why(f"{self.name} exited before it was ready"))
            if check is not None and check():
                return
            if regex is not None and any(regex.search(line) for line in self.tail()):
                return
            if time.monotonic() > deadline:
                raise NotReadyInTime(self._why(f"{self.name} not ready after {timeout_s:.0f}s"))
            with self._lines_seen:
                self._lines_seen.wait(interval_s)

    def stop(self, *, grace_s: float = 5.0, quit_key: bool = False) -> int | None:
        """Stop in steps ('q' on stdin when asked: ffmpeg finishes its file; then
        stop_steps' signals), a grace apart, then SIGKILL; returns the exit code."""
        proc = self._proc
        if proc is None:
            return None
        plan = self.stop_steps
        steps: list[Callable[[], None]] = [self._send_quit] if quit_key else []
        steps += [partial(self.signal, signum, group=plan.group) for signum in plan.signals]
        for step in [*steps, self._kill_group]:
            if proc.poll() is not None:
                break
            step()
            if self.wait(grace_s):
                break
            log.warning("%s did not stop in %.0fs, escalating", self.name, grace_s)
        if plan.sweep:
            self._kill_group()
        proc.wait()
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL to the group now, no step asking it to finish; then close().

        For a worker fenced off its task: a graceful stop would let ffmpeg close and list
        one more segment for a task another worker records now.
        """
        self._kill_group()
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
        if self._log is not None:
            self._log.close()

    def signal(self, signum: int, *, group: bool = True) -> None:
        """``signum`` to the child's group, or to the leader alone; nothing once it exited."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(proc.pid, signum)
            else:
                proc.send_signal(signum)

    def wait(self, timeout_s: float) -> bool:
        """True once the child has exited (or was never started)."""
        if self._proc is None:
            return True
        try:
            self._proc.wait(timeout=max(timeout_s, 0))
        except subprocess.TimeoutExpired:
            return False
        return True

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
        """Seconds since the child last wrote output (a hung ffmpeg stops talking)."""
        if self.log_file is not None:
            with contextlib.suppress(OSError):
                return max(0.0, time.time() - self.log_file.stat().st_mtime)
        return time.monotonic() - self._last_output

    def tail(self, count: int | None = None) -> list[str]:
        """The last ``count`` output lines (default: tail_lines)."""
        count = self._tail_lines if count is None else count
        if self.log_file is None:
            return list(self._tail)[-count:] if count else []
        try:
            with self.log_file.open("rb") as written:
                lines = collections.deque(written, maxlen=count)
        except OSError:
            return []
        return [self.hide(line.decode(errors="replace").rstrip()) for line in lines]

    def hide(self, text: str) -> str:
        """``text`` with each of the secrets this process was given replaced by ***."""
        return redaction.hide(text, self._secrets)

    def failure(self, what: str) -> ProcessFailed:
        return ProcessFailed(self._why(what))

    # ---- internals -------------------------------------------------------------------

    def _preexec(self) -> Callable[[], None] | None:
        return _die_with_parent if self.die_with_parent else None

    def _output(self) -> dict[str, Any]:
        """Popen's stdout and stderr: into the log file, or stderr to the pipe we read."""
        if self.log_file is None:
            return {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_file.open("ab")
        self._log.write(f"--- start {self.hide(' '.join(self.argv))}\n".encode())
        self._log.flush()
        return {"stdout": self._log, "stderr": subprocess.STDOUT}

    def _why(self, what: str) -> str:
        lines = [line for line in self.tail() if line.strip()][-6:]
        code = self.returncode
        detail = f" (exit code {code})" if code is not None else ""
        return f"{what}{detail}" + (": " + " | ".join(lines) if lines else "")

    def _drain_output(self) -> None:
        """Once the child has exited: let the reader take in its last lines (the reason)."""
        if self._reader is not None:
            self._reader.join(timeout=1.0)

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
        self._tail.append(self.hide(line))
        log.debug("%s: %s", self.name, self.hide(line))
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

    def _kill_group(self) -> None:
        """SIGKILL to the group: while the leader runs, or once after it when sweeping
        (after that the group id may be reused: it is never swept twice)."""
        proc = self._proc
        if proc is None:
            return
        leader_gone = proc.poll() is not None
        if leader_gone and (not self.stop_steps.sweep or self._group_killed):
            return
        self._group_killed = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
