"""One component of the local farm (a deploy.local.stack.Command) as a child process: the
farm's own ManagedProcess, told where the log goes, when the component is ready and how
a service stops.

Output (stdout and stderr) goes to a log file; the last lines are kept for the error
message when the child dies. Each child leads its own process group, so a Ctrl-C in the
terminal reaches only the supervisor, which then stops the children in order. SIGTERM
goes to the leader alone (a Celery worker drains its tasks, granian its requests);
SIGKILL, after the grace, goes to the whole group so that nothing is left behind.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Mapping
from pathlib import Path

from deploy.local.ready import is_ready
from deploy.local.stack import Command
from workers.common.media.process import (
    SERVICE,
    ExitedBeforeReady,
    ManagedProcess,
    NotReadyInTime,
    ProcessFailed,
)


class ChildFailed(ProcessFailed):
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
        # A component outlives a supervisor killed hard, as it always has: no death signal.
        self.process = ManagedProcess(
            command.name,
            resolve(command.argv, self.env),
            env=self.env,
            cwd=cwd,
            log_file=log,
            stop_steps=SERVICE,
            die_with_parent=False,
        )

    @property
    def name(self) -> str:
        return self.command.name

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def start(self) -> Child:
        self.process.start()
        return self

    def returncode(self) -> int | None:
        """None while running."""
        return self.process.returncode

    def alive(self) -> bool:
        return self.process.alive

    def tail(self, count: int = 20) -> list[str]:
        return self.process.tail(count)

    def failure(self, reason: str) -> ChildFailed:
        return ChildFailed(self.name, reason, self.log, self.tail())

    def exit_reason(self) -> str:
        code = self.returncode()
        if code is not None and code < 0:
            return f"was killed by {signal.Signals(-code).name}"
        return f"exited with code {code}"

    def wait_ready(self, timeout: float = 30.0, interval: float = 0.2) -> Child:
        """Until the command's Ready probe answers; ChildFailed if it exits or times out."""
        ready = self.command.ready
        try:
            self.process.wait_ready(lambda: is_ready(ready), timeout_s=timeout, interval_s=interval)
        except ExitedBeforeReady:
            raise self.failure(self.exit_reason()) from None
        except NotReadyInTime:
            raise self.failure(f"not ready after {timeout:.0f}s ({ready.target})") from None
        return self

    def signal(self, sig: signal.Signals, group: bool = False) -> None:
        self.process.signal(sig, group=group)

    def terminate(self) -> None:
        """First step of stop(): SIGTERM to the leader."""
        self.signal(signal.SIGTERM)

    def wait(self, timeout: float) -> bool:
        """True once the child has exited."""
        return self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL to the whole group (the leader and anything it started)."""
        self.process.kill()

    def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after the grace; returns the exit code."""
        self.process.stop(grace_s=grace)
        return self.close()

    def close(self) -> int | None:
        self.process.close()
        return self.process.returncode
