"""How each component of the farm is started: pure functions returning command lines.

One source of truth for `make run` (deploy.local.supervisor) and the test fixtures
(tests/support): both build their commands here and run them with deploy.local.process.
Nothing in this module starts a process or touches the file system.

The reconciler is one process, `celery worker -Q reconciler -B`: beat embedded in the
worker that consumes its ticks. Beat and its consumer live and die together (a beat
without a consumer would pile ticks into a queue nobody reads), the reconcile task is
idempotent and cheap, and the farm runs exactly one such process (the Helm chart runs
it as a single replica), so the usual warning against -B with several workers does not
apply. It saves a Python process on a 2-core machine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

HOST = "127.0.0.1"
RTMP_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")
# `celery -A config.celery` finds the module's `app`: config.celery.celery_app(), which
# create_celery builds from the process's Settings when the command starts.
CELERY_APP = "config.celery"
LOCAL_ALLOWLIST = ["127.0.0.0/8"]
ROOM_STREAM = "{SdkAppId}_{Room}_{UserId}"

ReadyKind = Literal["tcp", "redis", "http", "celery"]


@dataclass(frozen=True)
class Ready:
    """How to tell a component is up: a TCP port, a Redis PING, an HTTP answer, a Celery ping."""

    kind: ReadyKind
    target: str  # "host:port", "host:port", "http://...", "<node>@<host>|<broker url>"


@dataclass(frozen=True)
class Command:
    """A component's command line, extra environment and readiness check."""

    name: str
    argv: list[str]
    ready: Ready
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Ports:
    redis: int = 6379
    rtmp: int = 1935
    dispatcher: int = 8080
    flower: int = 5555
    host: str = HOST


@dataclass(frozen=True)
class Layout:
    """Where the local farm keeps its files (default: var/ in the repository)."""

    root: Path

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def redis_dir(self) -> Path:
        return self.root / "redis"

    @property
    def nginx_dir(self) -> Path:
        return self.root / "run" / "nginx"

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"


def rtmp_template(ports: Ports) -> str:
    """The room URL template of the local RTMP server, for pull and push alike."""
    return f"rtmp://{ports.host}:{ports.rtmp}/live/{ROOM_STREAM}"


def farm_env(ports: Ports, data_dir: Path) -> dict[str, str]:
    """CAPSTAN_* settings every farm process of the local stack shares."""
    template = rtmp_template(ports)
    return {
        "CAPSTAN_REDIS_URL": f"redis://{ports.host}:{ports.redis}",
        "CAPSTAN_DATA_DIR": str(data_dir),
        "CAPSTAN_HOST": ports.host,
        "CAPSTAN_PORT": str(ports.dispatcher),
        "CAPSTAN_PUBLIC_URL": f"http://{ports.host}:{ports.dispatcher}",
        "CAPSTAN_FLOWER_PORT": str(ports.flower),
        "CAPSTAN_RTMP_PORT": str(ports.rtmp),
        "CAPSTAN_ROOM_BACKEND": "rtmp",
        "CAPSTAN_ROOM_PULL_TEMPLATE": template,
        "CAPSTAN_ROOM_PUSH_TEMPLATE": template,
        "CAPSTAN_URL_ALLOWLIST": json.dumps(LOCAL_ALLOWLIST),
        "PYTHONUNBUFFERED": "1",
    }


def redis_command(
    port: int,
    data_dir: Path,
    host: str = HOST,
    replica_of: tuple[str, int] | None = None,
    password: str = "",
) -> Command:
    """redis-server with its own configuration: AOF on, noeviction, in the foreground;
    replica_of: a replica of that master; password: required, of clients and replicas
    alike (a Sentinel group: any of them may become the master). Ready when the port
    answers (a PING without the password answers -NOAUTH)."""
    argv = [
        "redis-server",
        "--port", str(port),
        "--bind", host,
        "--dir", str(data_dir),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--maxmemory-policy", "noeviction",
        "--daemonize", "no",
        "--save", "",
        "--logfile", "",
        "--protected-mode", "yes",
    ]  # fmt: skip
    if replica_of is not None:
        argv += ["--replicaof", replica_of[0], str(replica_of[1])]
    if password:
        argv += ["--requirepass", password, "--masterauth", password]
        return Command("redis", argv, Ready("tcp", f"{host}:{port}"))
    return Command("redis", argv, Ready("redis", f"{host}:{port}"))


def sentinel_conf(
    port: int,
    master: tuple[str, int],
    directory: Path,
    *,
    master_name: str = "mymaster",
    quorum: int = 2,
    down_after_ms: int = 5000,
    host: str = HOST,
    master_password: str = "",
    password: str = "",
) -> str:
    """redis-sentinel's configuration (a file: Sentinel rewrites it as it learns; keep it
    private, it holds the passwords). password: the sentinels' own (requirepass)."""
    name = master_name
    lines = [
        f"port {port}",
        f"bind {host}",
        "daemonize no",
        'logfile ""',
        f"dir {directory}",
        f"sentinel monitor {name} {master[0]} {master[1]} {quorum}",
        f"sentinel down-after-milliseconds {name} {down_after_ms}",
        f"sentinel failover-timeout {name} {max(down_after_ms * 4, 5000)}",
        f"sentinel parallel-syncs {name} 1",
    ]
    if master_password:  # after `sentinel monitor`: auth-pass names its master
        lines.append(f"sentinel auth-pass {name} {master_password}")
    if password:
        lines.append(f"requirepass {password}")
    return "\n".join(lines) + "\n"


def sentinel_command(conf: Path, port: int, host: str = HOST) -> Command:
    """redis-sentinel (Debian's package) with the file written from sentinel_conf()."""
    ready = Ready("tcp", f"{host}:{port}")
    return Command(f"sentinel-{port}", ["redis-sentinel", str(conf)], ready)


def nginx_conf(port: int, prefix: Path, host: str = HOST, module: Path = RTMP_MODULE) -> str:
    """nginx.conf for the local room server: RTMP only, in the foreground, log on stderr.

    idle_streams off: playing a stream nobody publishes fails at once, and the players of
    a stream are disconnected when its publisher leaves, as when a user leaves a room.
    """
    return f"""\
load_module {module};
daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log stderr info;

events {{
    worker_connections 1024;
}}

rtmp {{
    server {{
        listen {host}:{port};
        chunk_size 4096;
        drop_idle_publisher 10s;

        application live {{
            live on;
            record off;
            idle_streams off;
        }}
    }}
}}
"""


def nginx_command(conf: Path, prefix: Path, port: int, host: str = HOST) -> Command:
    """nginx with the RTMP module, reading the file written from nginx_conf()."""
    argv = ["nginx", "-p", f"{prefix}/", "-c", str(conf), "-e", "stderr"]
    return Command("nginx-rtmp", argv, Ready("tcp", f"{host}:{port}"))


def dispatcher_command(port: int, host: str = HOST, workers: int | None = None) -> Command:
    """The dispatcher's server (dispatcher/serve.py); sized by Settings unless ``workers``."""
    argv = ["python", "-m", "dispatcher.serve", "--host", host, "--port", str(port)]
    if workers is not None:
        argv += ["--workers", str(workers)]
    return Command("dispatcher", argv, Ready("http", f"http://{host}:{port}/healthz"))


def node_name(name: str, hostname: str) -> str:
    """The Celery node name `<name>@<hostname>` that `-n <name>@%h` expands to."""
    return f"{name}@{hostname}"


def worker_command(
    pool: str, concurrency: int, broker_url: str, hostname: str, node: str | None = None
) -> Command:
    """One Celery worker for one pool (queue), threads, events on for Flower."""
    node = node or pool
    argv = [
        "celery", "-A", CELERY_APP, "worker",
        "-Q", pool,
        "-n", f"{node}@%h",
        "--pool", "threads",
        "-c", str(concurrency),
        "-E",
        "--without-gossip",
        "--without-mingle",
        "-l", "INFO",
    ]  # fmt: skip
    ready = Ready("celery", f"{node_name(node, hostname)}|{broker_url}")
    return Command(node, argv, ready)


def reconciler_command(
    broker_url: str, hostname: str, schedule: Path, node: str = "reconciler"
) -> Command:
    """The reconciler: one thread consuming the reconciler queue, with beat embedded (-B)."""
    argv = [
        "celery", "-A", CELERY_APP, "worker",
        "-Q", "reconciler",
        "-n", f"{node}@%h",
        "--pool", "threads",
        "-c", "1",
        "-B",
        "-s", str(schedule),
        "-E",
        "--without-gossip",
        "--without-mingle",
        "-l", "INFO",
    ]  # fmt: skip
    return Command(node, argv, Ready("celery", f"{node_name(node, hostname)}|{broker_url}"))


def flower_command(port: int, host: str = HOST, basic_auth: str = "") -> Command:
    """Flower on the farm's broker; --basic-auth user:password when given."""
    argv = ["celery", "-A", CELERY_APP, "flower", f"--address={host}", f"--port={port}"]
    if basic_auth:
        argv.append(f"--basic-auth={basic_auth}")
    return Command("flower", argv, Ready("http", f"http://{host}:{port}/healthcheck"))
