"""One child process of the local farm: start, wait until ready, stop in steps.

Output (stdout and stderr) goes to a log file; the last lines are kept for the error
message when the child dies. Each child leads its own process group, so a Ctrl-C in the
terminal reaches only the supervisor, which then stops the children in order. SIGTERM
goes to the leader alone (a Celery worker drains its tasks, gunicorn its requests);
SIGKILL, after the grace, goes to the whole group so that nothing is left behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from deploy.local.ready import is_ready
from deploy.local.stack import Command


class ChildFailed(RuntimeError):
    """A child exited, or did not become ready in time; the message carries its last lines."""

    def __init__(self, name: str, reason: str, log: Path, tail: list[str]) -> None:
        lines = "\n".join(f"    {line}" for line in tail) or "    (no output)"
        super().__init__(f"{name} {reason}; last lines of {log}:\n{lines}")
        self.name = name
        self.reason = reason


def resolve(argv: list[str], env: Mapping[str, str]) -> list[str]:
    """argv with its program found on the child's PATH (and in the sbin directories)."""
    path = f"{env.get('PATH', os.defpath)}:/usr/local/sbin:/usr/sbin:/sbin"
    return [shutil.which(argv[0], path=path) or argv[0], *argv[1:]]


class Child:
    """A started component. `close()` (= stop) is safe to call twice."""

    def __init__(
        self,
        command: Command,
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.command = command
        self.log = log
        self.env = {**(env if env is not None else os.environ), **command.env}
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def name(self) -> str:
        return self.command.name

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self) -> Child:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log.open("ab")
        self._log_file.write(f"--- start {' '.join(self.command.argv)}\n".encode())
        self._log_file.flush()
        self.proc = subprocess.Popen(
            resolve(self.command.argv, self.env),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
        )
        return self

    def returncode(self) -> int | None:
        """None while running."""
        return self.proc.poll() if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, count: int = 20) -> list[str]:
        try:
            with self.log.open("rb") as log:
                lines = deque(log, maxlen=count)
        except OSError:
            return []
        return [line.decode(errors="replace").rstrip() for line in lines]

    def failure(self, reason: str) -> ChildFailed:
        return ChildFailed(self.name, reason, self.log, self.tail())

    def exit_reason(self) -> str:
        code = self.returncode()
        if code is not None and code < 0:
            return f"was killed by {signal.Signals(-code).name}"
        return f"exited with code {code}"

    def wait_ready(self, timeout: float = 30.0, interval: float = 0.2) -> Child:
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise self.failure(self.exit_reason())
            if is_ready(self.command.ready):
                return self
            if time.monotonic() > deadline:
                raise self.failure(f"not ready after {timeout:.0f}s ({self.command.ready.target})")
            time.sleep(interval)

    def signal(self, sig: signal.Signals, group: bool = False) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(self.proc.pid, sig)
            else:
                self.proc.send_signal(sig)

    def terminate(self) -> None:
        """First step of stop(): SIGTERM to the leader."""
        self.signal(signal.SIGTERM)

    def wait(self, timeout: float) -> bool:
        """True once the child has exited."""
        if self.proc is None:
            return True
        try:
            self.proc.wait(timeout=max(timeout, 0))
        except subprocess.TimeoutExpired:
            return False
        return True

    def kill(self) -> None:
        """SIGKILL to the whole group (the leader and anything it started)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after the grace; returns the exit code."""
        self.terminate()
        self.wait(grace)
        self.kill()  # after the grace, or to reap orphans the leader left in its group
        return self.close()

    def close(self) -> int | None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return self.proc.returncode if self.proc else None
