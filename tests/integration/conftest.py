"""What the pools' end-to-end tests share: the farm's Settings with a module's own
timings, and the dispatcher in this process.

A module picks its farm by overriding ``farm_env``: its CAPSTAN_* additions, and the
servers the farm uses (rtmp_server, s3_server) as the fixture's arguments:

    @pytest.fixture
    def farm_env(rtmp_server, s3_server):
        return RECORDER_TEST_ENV
"""

from __future__ import annotations

from typing import Any

import pytest

from config.settings import Settings
from tests.support.farm import forget_cached_state


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
