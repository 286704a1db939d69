"""A hung Chromium (SIGSTOP: alive, silent) on a real panorama worker.

A frozen browser keeps its last picture on the X screen, so the capture goes on
producing frames: only the page can tell. The session asks the page to run a trivial
script every few seconds; when it has not answered for CAPSTAN_STALL_TIMEOUT_S the task
ends clearly (finished with BrowserHung, the recording kept and delivered as one file)
and the frozen processes are killed, not left behind.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.support import media
from tests.support import panorama_helpers as pano
from tests.support.api import local_file
from tests.support.chaos import examine, wait_for
from tests.support.procs import children, send

pytestmark = pytest.mark.integration


def chromium_descendants(pid: int) -> list[int]:
    """Every Chromium process under ``pid`` (browser, zygotes, renderers, GPU, utility)."""
    found, todo = [], children(pid)
    while todo:
        child = todo.pop()
        todo += children(child)
        if state(child)[0] == "chromium":
            found.append(child)
    return found


def state(pid: int) -> tuple[str, str]:
    """(comm, state letter) of a process; ("", "") once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "", ""
    comm = stat[stat.index("(") + 1 : stat.rindex(")")]
    return comm, stat[stat.rindex(")") + 2]


def test_a_hung_chromium_fails_the_task_clearly_and_keeps_the_recording(
    capstan_env, page_recording, chaos_figures
):
    # Given a page being recorded
    api, task_id, started, worker_pid = page_recording(320, 240, seconds=4)

    # When every one of its Chromium processes freezes (renderers and browser)
    frozen = wait_for(lambda: chromium_descendants(worker_pid), 10, "the task's Chromium")
    for pid in frozen:
        send(pid, signal.SIGSTOP)
    hung = time.monotonic()

    # Then the task ends by itself with a clear error and the recording before the hang
    body = api.finished(task_id, timeout=60)
    result = body["Result"]
    output = examine(result, lambda url: local_file(capstan_env, url))
    chaos_figures(
        "panorama: Chromium hung (SIGSTOP)",
        media_seconds_lost=(hung - started) - output.duration_s,
        one_playable_file=output.one_playable_file,
        error=result.get("ErrorCode"),
    )
    assert result["ErrorCode"] == "BrowserHung", result
    assert "stopped answering" in result["ErrorMessage"]
    assert output.one_playable_file
    assert pano.close_to(media.frame_rgb(output.path, 1.0), pano.BLUE)
    # and no frozen Chromium is left behind (killed, not merely abandoned)
    wait_for(
        lambda: all(state(pid)[1] in ("", "Z") for pid in frozen), 10, "the frozen Chromium killed"
    )
