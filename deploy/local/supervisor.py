"""The local farm in the foreground: `python -m deploy.local.supervisor` (what `make run` runs).

Starts Redis, the RTMP room server, the dispatcher, one worker per pool, the reconciler
and Flower, in that order, each ready before the next stage; prints their addresses;
stops them all in reverse order on Ctrl-C / SIGTERM, or as soon as one of them dies
(saying which, and its last log lines). Logs: var/log/<name>.log.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from config.settings import SERVICES, Settings, get_settings
from deploy.local import janus, stack
from deploy.local.process import Child, ChildFailed
from deploy.local.ready import tcp_open
from deploy.local.stack import Command, Layout, Ports

Stage = list[Command]


class Interrupted(Exception):
    """Ctrl-C or SIGTERM reached the supervisor."""


def ports_from(settings: Settings) -> Ports:
    redis = urlsplit(settings.redis_url)
    return Ports(
        redis=redis.port or 6379,
        rtmp=settings.rtmp_port,
        dispatcher=settings.port,
        flower=settings.flower_port,
        host=settings.host,
    )


def plan(
    settings: Settings, ports: Ports, layout: Layout, hostname: str, basic_auth: str = ""
) -> list[Stage]:
    """The farm's stages in start order (pure: decides, runs nothing)."""
    broker = settings.broker_url
    nginx_conf = layout.nginx_dir / "nginx.conf"
    concurrency = settings.worker_concurrency
    return [
        [stack.redis_command(ports.redis, layout.redis_dir, ports.host)],
        [stack.nginx_command(nginx_conf, layout.nginx_dir, ports.rtmp, ports.host)],
        *janus_stage(settings, layout),
        [stack.dispatcher_command(ports.dispatcher, ports.host)],
        [stack.worker_command(pool, concurrency[pool], broker, hostname) for pool in SERVICES],
        [stack.reconciler_command(broker, hostname, layout.run_dir / "celerybeat-schedule")],
        [stack.flower_command(ports.flower, ports.host, basic_auth)],
    ]


def janus_stage(settings: Settings, layout: Layout) -> list[Stage]:
    """Janus on CAPSTAN_JANUS_URL's port, when the farm's rooms are Janus VideoRooms."""
    if settings.room_backend != "janus":
        return []
    host, port = janus.janus_address(settings.janus_url)
    return [[janus.janus_command(layout.root / "run" / "janus", port, host)]]


def prepare_janus(settings: Settings, layout: Layout) -> None:
    if settings.room_backend != "janus":
        return
    host, port = janus.janus_address(settings.janus_url)
    directory = layout.root / "run" / "janus"
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in janus.janus_configs(directory, port, settings.janus_admin_key, host).items():
        (directory / name).write_text(text)


def child_env(base: Mapping[str, str], ports: Ports, data_dir: Path) -> dict[str, str]:
    """The children's environment: the local farm's settings, under the user's own CAPSTAN_*."""
    local = stack.farm_env(ports, data_dir)
    if base.get("CAPSTAN_ROOM_BACKEND", "rtmp") != "rtmp":
        for key in ("BACKEND", "PULL_TEMPLATE", "PUSH_TEMPLATE"):
            local.pop(f"CAPSTAN_ROOM_{key}")
    # python and celery of this interpreter's environment (make run need not activate it).
    path = f"{Path(sys.executable).parent}:{base.get('PATH', os.defpath)}"
    return {**local, **base, "PATH": path}


def prepare(layout: Layout, ports: Ports) -> None:
    for directory in (layout.log_dir, layout.run_dir, layout.redis_dir, layout.nginx_dir):
        directory.mkdir(parents=True, exist_ok=True)
    conf = stack.nginx_conf(ports.rtmp, layout.nginx_dir, ports.host)
    (layout.nginx_dir / "nginx.conf").write_text(conf)


def port_taken(command: Command) -> str | None:
    """The address a component will listen on, when something already answers there."""
    if command.ready.kind == "celery":
        return None
    address = urlsplit(command.ready.target).netloc or command.ready.target
    return address if tcp_open(address) else None


class Supervisor:
    def __init__(
        self, stages: list[Stage], layout: Layout, env: Mapping[str, str], grace: float
    ) -> None:
        self.stages = stages
        self.layout = layout
        self.env = env
        self.grace = grace
        self.running: list[list[Child]] = []
        self.hurry = False

    def start(self, ready_timeout: float) -> None:
        for stage in self.stages:
            for command in stage:
                if address := port_taken(command):
                    raise ChildFailed(
                        command.name, f"cannot start: {address} is already in use "
                        "(another farm, or a system service: stop it or change the "
                        "CAPSTAN_* port)", self.layout.log(command.name), [],
                    )  # fmt: skip
            children = [Child(cmd, self.layout.log(cmd.name), self.env) for cmd in stage]
            self.running.append(children)
            for child in children:
                child.start()
            for child in children:
                child.wait_ready(ready_timeout)
                say(f"{child.name} is up (pid {child.pid})")

    def watch(self, interval: float = 0.5) -> None:
        """Return never; raise ChildFailed when a component exits."""
        while True:
            for children in self.running:
                for child in children:
                    if not child.alive():
                        raise child.failure(child.exit_reason())
            time.sleep(interval)

    def stop(self) -> None:
        for children in reversed(self.running):
            for child in children:
                child.terminate()
            deadline = time.monotonic() + self.grace
            for child in children:
                while not self.hurry and not child.wait(0.2) and time.monotonic() < deadline:
                    pass
                was_alive = child.alive()
                child.kill()
                child.close()
                say(f"{child.name} stopped" + (" (killed after the grace)" if was_alive else ""))
        self.running = []


def say(message: str) -> None:
    print(f"capstan: {message}", flush=True)


def addresses(ports: Ports, layout: Layout, settings: Settings) -> str:
    host = ports.host
    return "\n".join(
        [
            "Capstan is running (Ctrl-C stops it):",
            f"  dispatcher  http://{host}:{ports.dispatcher}",
            f"  Flower      http://{host}:{ports.flower}",
            f"  Redis       {host}:{ports.redis}  (db0 broker, db1 results, db2 task store)",
            f"  RTMP room   {stack.rtmp_template(ports)}",
            *([f"  Janus rooms {settings.janus_url}"] if settings.room_backend == "janus" else []),
            f"  logs        {layout.log_dir}/<name>.log",
        ]
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deploy.local.supervisor", description=__doc__)
    parser.add_argument("--var", type=Path, default=Path("var"), help="logs, run files, Redis data")
    parser.add_argument("--grace", type=float, default=20.0, help="seconds from SIGTERM to SIGKILL")
    parser.add_argument("--ready-timeout", type=float, default=60.0)
    parser.add_argument(
        "--flower-basic-auth", default="", metavar="USER:PASSWORD", help="protect Flower"
    )
    return parser.parse_args(argv)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = get_settings()
    if settings.redis.is_sentinel:
        # The local farm runs its own Redis; a Sentinel group is for farms that run theirs.
        say("CAPSTAN_REDIS_URL names sentinels: `make run` starts its own Redis; unset it")
        return 2
    layout = Layout(args.var.resolve())
    ports = ports_from(settings)
    env = child_env(os.environ, ports, settings.data_dir.resolve())
    stages = plan(settings, ports, layout, socket.gethostname(), args.flower_basic_auth)
    supervisor = Supervisor(stages, layout, env, args.grace)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    code = 0
    try:
        prepare(layout, ports)
        prepare_janus(settings, layout)
        supervisor.start(args.ready_timeout)
        print(addresses(ports, layout, settings), flush=True)
        supervisor.watch()
    except Interrupted as sig:
        say(f"{sig}: stopping")
    except ChildFailed as failure:
        say(str(failure))
        say("stopping the rest")
        code = 1
    finally:

        def hurry(signum: int, frame: FrameType | None) -> None:
            supervisor.hurry = True

        signal.signal(signal.SIGINT, hurry)
        signal.signal(signal.SIGTERM, hurry)
        supervisor.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
