"""Farm components (dispatcher, pool workers, reconciler, Flower) as test subprocesses."""

from __future__ import annotations

import itertools
import socket
import sys
from pathlib import Path

from config import redis_url
from config.celery import forget_celery_app
from config.settings import SERVICES, Settings, get_settings, reset_settings
from deploy.local import stack
from deploy.local.process import Child
from deploy.local.stack import Command
from tests.support.tools import REPO, free_port
from workers.common.domain.crypto import forget_key
from workers.common.domain.redis_client import forget_clients

ROLES = ("dispatcher", *SERVICES, "reconciler", "flower")
# One count for the session: every process's log (and node name) is its own, never a file an
# earlier test's process appended to.
_SERIAL = itertools.count(1)


def with_venv_path(env: dict[str, str]) -> dict[str, str]:
    """python and celery from this interpreter's bin directory come first on PATH, and
    import this checkout (a venv's editable install may point at another worktree)."""
    bin_dir = str(Path(sys.executable).parent)
    path = f"{bin_dir}:{env.get('PATH', '/usr/bin:/bin')}"
    return {**env, "PATH": path, "PYTHONPATH": str(REPO)}


def forget_cached_state() -> Settings:
    """This process's Settings, Celery app and Redis clients read afresh (a test changed
    CAPSTAN_*)."""
    reset_settings()
    forget_celery_app()
    forget_clients()
    forget_key()
    return get_settings()


class FarmProcess:
    """A started component: .url (dispatcher, Flower), .log, stop(), kill() (a crash)."""

    def __init__(self, role: str, child: Child, url: str | None = None) -> None:
        self.role = role
        self.child = child
        self.url = url

    @property
    def log(self) -> Path:
        return self.child.log

    @property
    def pid(self) -> int | None:
        return self.child.pid

    def alive(self) -> bool:
        return self.child.alive()

    def tail(self, count: int = 30) -> list[str]:
        return self.child.tail(count)

    def stop(self, grace: float = 15.0) -> int | None:
        return self.child.stop(grace)

    def kill(self) -> None:
        """SIGKILL the process and its children, as a crash would."""
        self.child.kill()
        self.child.close()


class FarmFactory:
    """farm_process(role, ...) -> a ready FarmProcess, stopped at teardown (reverse order).

    env is kept by reference: what a test adds to capstan_env_vars before calling
    farm_process(...) reaches the processes started after that.
    """

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.started: list[FarmProcess] = []
        self._serial = _SERIAL
        self._hostname = socket.gethostname()

    @property
    def broker_url(self) -> str:
        return redis_url.with_db(self.env["CAPSTAN_REDIS_URL"], 0)

    def command(self, role: str, concurrency: int | None, node: str | None) -> tuple[Command, str]:
        """The command for a role, and its URL ("" when it serves none)."""
        host = stack.HOST
        if role == "dispatcher":
            port = int(self.env["CAPSTAN_PORT"])
            command = stack.dispatcher_command(port)
            return command, f"http://{host}:{port}"
        if role in SERVICES:
            node = node or f"{role}-{next(self._serial)}"
            count = concurrency or (2 if role == "panorama" else 4)
            return stack.worker_command(role, count, self.broker_url, self._hostname, node), ""
        if role == "reconciler":
            schedule = self.log_dir / f"celerybeat-schedule-{next(self._serial)}"
            node = node or f"reconciler-{next(self._serial)}"
            return stack.reconciler_command(self.broker_url, self._hostname, schedule, node), ""
        if role == "flower":
            port = free_port()
            return stack.flower_command(port), f"http://{host}:{port}"
        raise ValueError(f"unknown role {role!r}: one of {', '.join(ROLES)}")

    def __call__(
        self,
        role: str,
        *,
        concurrency: int | None = None,
        node: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60.0,
    ) -> FarmProcess:
        command, url = self.command(role, concurrency, node)
        log = self.log_dir / f"{command.name}-{next(self._serial)}.log"
        child = Child(command, log, with_venv_path({**self.env, **(env or {})}), cwd=REPO)
        process = FarmProcess(role, child, url or None)
        self.started.append(process)
        child.start()
        child.wait_ready(timeout)
        return process

    def logs(self) -> str:
        """Every started process's whole log (to look for what must never be logged)."""
        return "\n".join(p.log.read_text(errors="replace") for p in self.started if p.log.exists())

    def report(self) -> str:
        """The log paths and last lines of every process started (printed when a test fails)."""
        parts = []
        for process in self.started:
            lines = "\n".join(f"    {line}" for line in process.tail())
            parts.append(f"--- {process.role} ({process.log}):\n{lines}")
        return "\n".join(parts)

    def close(self) -> None:
        for process in reversed(self.started):
            process.stop()
