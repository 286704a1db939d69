"""Shared fixtures: real servers on free ports, the farm's environment, media helpers.

Servers are started with deploy.local.stack's command lines, as `make run` starts them.
A missing tool skips a test on a laptop and fails it under CI=true (see require()).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deploy.local import stack
from deploy.local.stack import Ports
from tests.support.bare_capture import Yardstick
from tests.support.farm import FarmFactory, forget_cached_state
from tests.support.http import CallbackReceiver, StaticServer
from tests.support.publisher import Publisher, lavfi_publish_argv
from tests.support.servers import RedisServer, RtmpServer, S3Server
from tests.support.tools import free_port, require

FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    if report.failed:
        item.stash[FAILED] = True
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    return request.node.stash.get(FAILED, False)


@pytest.fixture(scope="session")
def test_redis_port() -> int:
    """The port the session's redis-server listens on."""
    return free_port()


@pytest.fixture(scope="session", autouse=True)
def no_developer_state(test_redis_port, tmp_path_factory) -> Iterator[None]:
    """A test that reads Settings without capstan_env still never reaches a developer's
    Redis or writes under ./var: the session's defaults are the test Redis and a temp dir."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CAPSTAN_REDIS_URL", f"redis://127.0.0.1:{test_redis_port}")
        patch.setenv("CAPSTAN_DATA_DIR", str(tmp_path_factory.mktemp("session-data")))
        forget_cached_state()
        yield
    forget_cached_state()


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory) -> Path:
    """Every server's and farm process's log, under this session's pytest temp directory."""
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory, log_dir, test_redis_port) -> Iterator[RedisServer]:
    """redis-server (AOF) on the session's port: .url .port .client(db) .restart() .flush()."""
    require("redis-server")
    server = RedisServer(tmp_path_factory.mktemp("redis"), log_dir, port=test_redis_port)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def rtmp_server(tmp_path_factory, log_dir) -> Iterator[RtmpServer]:
    """nginx + RTMP: .port .url(stream) .template .streams(name) .wait_published(name)."""
    require("nginx-rtmp")
    require("ffprobe")
    server = RtmpServer(tmp_path_factory.mktemp("nginx"), log_dir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server(log_dir) -> Iterator[S3Server]:
    """moto's S3 server: .endpoint .client() .make_bucket(name) .reset() .env()."""
    require("python:moto.server")
    server = S3Server(log_dir)
    server.start(timeout=60)
    yield server
    server.stop()


@pytest.fixture
def capstan_env_vars(request, redis_server, tmp_path) -> dict[str, str]:
    """The CAPSTAN_* environment of this test's farm (for in-process code and subprocesses).

    Points at the test Redis, a fresh data dir, and, when the test also uses them, at the
    rtmp_server (room templates) and s3_server (endpoint and credentials).
    """
    rtmp = request.getfixturevalue("rtmp_server") if "rtmp_server" in request.fixturenames else None
    ports = Ports(
        redis=redis_server.port,
        rtmp=rtmp.port if rtmp else 1935,
        dispatcher=free_port(),
        flower=free_port(),
    )
    env = stack.farm_env(ports, tmp_path / "data")
    # Most tests Start before (or without) a worker of the pool: admission does not count
    # slots unless a test asks (tests/integration/test_admission_slots.py).
    env["CAPSTAN_ADMISSION_COUNTS_SLOTS"] = "false"
    if "s3_server" in request.fixturenames:
        env.update(request.getfixturevalue("s3_server").env())
    return env


@pytest.fixture
def capstan_env(monkeypatch, capstan_env_vars, redis_server):
    """Settings for this test: environment set, caches forgotten, Redis db0-2 flushed."""
    for key in list(os.environ):
        if key.startswith("CAPSTAN_") and key not in capstan_env_vars:
            monkeypatch.delenv(key)
    for key, value in capstan_env_vars.items():
        monkeypatch.setenv(key, value)
    Path(capstan_env_vars["CAPSTAN_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    redis_server.flush(0, 1, 2)
    settings = forget_cached_state()
    yield settings
    forget_cached_state()


@pytest.fixture
def farm_process(request, capstan_env, capstan_env_vars, log_dir) -> Iterator[FarmFactory]:
    """farm_process(role, concurrency=, node=, env=, timeout=) -> FarmProcess, ready.

    role: "dispatcher" (.url), "recorder" / "pusher" / "panorama", "reconciler", "flower".
    Each process gets capstan_env_vars as it is at that call, plus env. Stopped at teardown
    (SIGTERM, then SIGKILL); their logs are printed when the test fails.
    """
    factory = FarmFactory(capstan_env_vars, log_dir)
    yield factory
    if _failed(request):
        print(factory.report())
    factory.close()


@pytest.fixture
def callback_receiver() -> Iterator[CallbackReceiver]:
    """POST recorder: .url .received .wait_for(n) .fail_first(n) .never_answer(s) .answer_ok()."""
    receiver = CallbackReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="session")
def flash_pages() -> Iterator[StaticServer]:
    """The test pages, served for the session (the flash-and-beep page among them)."""
    from tests.support import bare_capture

    server = bare_capture.flash_pages()
    yield server
    server.close()


@pytest.fixture(scope="session")
def bare_yardstick(flash_pages, tmp_path_factory) -> Yardstick:
    """What bare captures give on this machine, sound against picture
    (tests/support/bare_capture)."""
    from tests.support import bare_capture

    return bare_capture.bare_offset_ms(flash_pages.url, tmp_path_factory.mktemp("bare"))


@pytest.fixture
def static_server() -> Iterator[Callable[[Path], StaticServer]]:
    """static_server(directory) -> StaticServer (.url, .url_for(name)); Range requests work."""
    servers: list[StaticServer] = []

    def start(directory: Path) -> StaticServer:
        servers.append(StaticServer(directory))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def lavfi_publisher(request, log_dir) -> Iterator[Callable[..., Publisher]]:
    """lavfi_publisher(url, seconds=None, size="640x360", tone_hz=1000, flashbeep=False)
    -> Publisher (.stop()); flashbeep: tests.support.publisher's flash-and-beep pattern."""
    require("ffmpeg")
    publishers: list[Publisher] = []

    def start(
        url: str,
        seconds: float | None = None,
        size: str = "640x360",
        tone_hz: int = 1000,
        flashbeep: bool = False,
    ) -> Publisher:
        log = log_dir / f"publisher-{len(publishers) + 1}-{request.node.name[:60]}.log"
        argv = lavfi_publish_argv(url, seconds, size, tone_hz, flashbeep=flashbeep)
        publishers.append(Publisher(url, argv, log))
        return publishers[-1]

    yield start
    for publisher in publishers:
        publisher.stop()
