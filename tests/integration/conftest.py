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

from typing import Any

import pytest

from config.settings import Settings
from tests.support.api import Pool, ServiceApi
from tests.support.farm import FarmProcess, forget_cached_state


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
