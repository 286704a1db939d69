"""The chaos run's report: per scenario, media seconds lost and whether the output was one
playable file, printed as a JSON table at the end of the run (`make chaos`).

A scenario records its figures with the ``chaos_figures`` fixture:

    chaos_figures("recorder SIGKILL", media_seconds_lost=1.2, one_playable_file=True, ...)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import pytest

from config.settings import Settings
from tests.support import panorama_helpers as pano
from tests.support.api import HttpClient
from tests.support.chaos import FAST, holder_pid, wait_for
from tests.support.farm import FarmProcess, forget_cached_state
from tests.support.servers import SentinelGroup
from tests.support.tools import require, require_browser_stack
from workers.common.domain.store import default_store

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


PAGE_STALL_S = 4  # the hang scenarios' CAPSTAN_STALL_TIMEOUT_S


class PageRecording(NamedTuple):
    api: pano.PanoramaApi
    task_id: str
    started: float  # when Describe said recording (monotonic)
    worker_pid: int  # the worker process holding the task


@pytest.fixture
def page_recording(capstan_env_vars, farm_process, static_server) -> Callable[..., PageRecording]:
    """page_recording(width, height, seconds): a blue test page recorded for ``seconds`` by
    the one panorama worker of a farm on FAST timings that ends a task PAGE_STALL_S after
    its capture or its page stops answering."""
    require_browser_stack()
    capstan_env_vars.update({**FAST, "CAPSTAN_STALL_TIMEOUT_S": str(PAGE_STALL_S)})
    # No warm slot: the hang tests freeze every Chromium under the worker, and an idle
    # slot's would be frozen with the task's and left so (tests/integration/
    # test_panorama_slots.py covers a slot whose Chromium dies).
    capstan_env_vars["CAPSTAN_PANORAMA_WARM_SLOTS"] = "0"
    api = pano.PanoramaApi(HttpClient(farm_process("dispatcher").url))
    farm_process("panorama", concurrency=1)
    pages = static_server(pano.PAGES)

    def record(width: int, height: int, seconds: float) -> PageRecording:
        url = pano.page_url(pages.url, bg="0000ff")
        task_id = api.start(RecordURL=url, Width=width, Height=height)
        api.wait_status(task_id, "recording")
        started = time.monotonic()
        time.sleep(seconds)
        store = default_store()
        pid = wait_for(lambda: holder_pid(store, task_id), 10, "a worker holds the lease")
        return PageRecording(api, task_id, started, pid)

    return record
