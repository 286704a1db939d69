"""What the pools' end-to-end tests share: the farm's Settings with a module's own
timings, the dispatcher in this process, the module's pool through it and a worker of it.

A module names its pool with a module-level POOL (tests.support.api.Pool), and picks its
farm by overriding ``farm_env``: its CAPSTAN_* additions, and the servers the farm uses
(rtmp_server, s3_server) as the fixture's arguments:

    POOL = Pool(RecorderApi)

    @pytest.fixture
    def farm_env(rtmp_server, s3_server):
        return RECORDER_TEST_ENV
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from config.settings import Settings
from tests.support.api import Pool, ServiceApi
from tests.support.farm import FarmProcess, forget_cached_state
from tests.support.tools import missing, require

if TYPE_CHECKING:  # aiortc and playwright are imported by the fixtures that need them
    from tests.support.http import StaticServer
    from tests.support.janus import JanusServer
    from tests.support.janus_subscriber import BrowserSubscriber


@pytest.fixture
def farm_env() -> dict[str, str]:
    """The CAPSTAN_* settings this module's farm adds to capstan_env_vars."""
    return {}


@pytest.fixture
def settings(farm_env, monkeypatch, capstan_env_vars, capstan_env) -> Settings:
    """This test's Settings with farm_env: in this process, and in every farm process
    started after it (farm_process reads capstan_env_vars)."""
    if not farm_env:
        return capstan_env
    capstan_env_vars.update(farm_env)
    for key, value in farm_env.items():
        monkeypatch.setenv(key, value)
    return forget_cached_state()


@pytest.fixture
def dispatcher_client(settings) -> Any:
    """The dispatcher's app in this process, as a Flask test client (for ServiceApi)."""
    from dispatcher.app import create_app

    return create_app(settings).test_client()


@pytest.fixture
def api(request, dispatcher_client) -> ServiceApi:
    """The module's pool through the dispatcher in this process."""
    pool: Pool = request.module.POOL
    return pool.api(dispatcher_client)


@pytest.fixture
def worker(request, settings, farm_process) -> FarmProcess:
    """A worker of the module's pool, as `make run` starts one."""
    pool: Pool = request.module.POOL
    return farm_process(pool.api.service, concurrency=pool.concurrency)


# ---- WebRTC rooms: a module's own Janus, the pages its browser participants load ----------


@pytest.fixture(scope="module")
def janus_server(tmp_path_factory, log_dir) -> Iterator[JanusServer]:
    require("janus")
    require("python:aiortc")
    from tests.support.janus import JanusServer

    server = JanusServer(tmp_path_factory.mktemp("janus"), log_dir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def janus_pages(tmp_path_factory) -> Iterator[StaticServer]:
    """janus-publish.html, janus-subscribe.html and Debian's janus.js, served."""
    require("chromium")
    require("python:aiortc")
    from tests.support.janus import JANUS_JS, publisher_pages

    if not JANUS_JS.exists():
        missing(f"{JANUS_JS} is not installed (apt-get install libjs-janus-gateway)")
    server = publisher_pages(tmp_path_factory.mktemp("janus-pages"))
    yield server
    server.close()


@pytest.fixture
def subscriber(janus_pages, janus_server, tmp_path) -> Iterator[Callable[..., BrowserSubscriber]]:
    """subscriber(room, display, pin=): a browser watching that participant; closed at the end."""
    require("python:playwright")
    from tests.support.janus_subscriber import BrowserSubscriber

    started: list[BrowserSubscriber] = []

    def watch(room: int, display: str, pin: str = "") -> BrowserSubscriber:
        where = tmp_path / f"subscriber-{len(started)}"
        one = BrowserSubscriber(janus_pages, janus_server, room, display, where, pin=pin)
        started.append(one)
        return one.start()

    yield watch
    for one in started:
        one.close()
