"""The chaos run's report: per scenario, media seconds lost and whether the output was one
playable file, printed as a JSON table at the end of the run (`make chaos`).

A scenario records its figures with the ``chaos_figures`` fixture:

    chaos_figures("recorder SIGKILL", media_seconds_lost=1.2, one_playable_file=True, ...)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from config.settings import Settings
from tests.support.chaos import FAST
from tests.support.farm import FarmProcess, forget_cached_state
from tests.support.servers import SentinelGroup
from tests.support.tools import require

FIGURES: list[dict[str, Any]] = []


@pytest.fixture
def chaos_figures() -> Callable[..., None]:
    def record(
        scenario: str, *, media_seconds_lost: float | None, one_playable_file: bool | None, **extra
    ) -> None:
        lost = None if media_seconds_lost is None else round(max(media_seconds_lost, 0.0), 2)
        FIGURES.append(
            {
                "scenario": scenario,
                "media_seconds_lost": lost,
                "one_playable_file": one_playable_file,
                **{k: round(v, 2) if isinstance(v, float) else v for k, v in extra.items()},
            }
        )

    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("chaos: media lost per scenario")
    terminalreporter.write_line(json.dumps(FIGURES, indent=1))


@pytest.fixture
def sentinel_group(tmp_path, log_dir) -> Iterator[SentinelGroup]:
    """A Redis master, a replica and three sentinels: .url .env() .kill_master() .master_port()."""
    require("redis-server")
    require("redis-sentinel")
    group = SentinelGroup(tmp_path / "sentinel", log_dir)
    try:
        group.start()
        yield group
    finally:
        group.stop()


@pytest.fixture
def on_sentinel(sentinel_group, capstan_env_vars, capstan_env, monkeypatch) -> Settings:
    """This test's farm on the Sentinel group instead of the session's Redis: the processes
    started from now on, and this process's Settings and store."""
    capstan_env_vars.update(sentinel_group.env())
    for key, value in sentinel_group.env().items():
        monkeypatch.setenv(key, value)
    return forget_cached_state()


@pytest.fixture
def farm(capstan_env_vars, rtmp_server, farm_process) -> FarmProcess:
    """A dispatcher and the reconciler on FAST timings (the workers are the test's); the
    dispatcher."""
    capstan_env_vars.update(FAST)
    dispatcher = farm_process("dispatcher")
    farm_process("reconciler")
    return dispatcher
