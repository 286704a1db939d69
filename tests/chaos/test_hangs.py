"""A hung ffmpeg (SIGSTOP: alive, silent, writing nothing) on a real panorama worker.

The runtime notices no progress for CAPSTAN_STALL_TIMEOUT_S, ends the task clearly
(finished with RecordFailed, what was recorded before kept and delivered as one file):
no task stays "recording" forever.
"""

from __future__ import annotations

import signal
import time

import pytest

from tests.support.api import local_file
from tests.support.chaos import FAST, examine, wait_for
from tests.support.procs import ffmpeg_children, send

pytestmark = pytest.mark.integration


def test_a_hung_capture_ffmpeg_fails_the_task_clearly_and_keeps_the_recording(
    capstan_env, page_recording, chaos_figures
):
    # Given a page being recorded
    api, task_id, started, worker_pid = page_recording(640, 360, seconds=5)

    # When its ffmpeg hangs
    (capture,) = wait_for(lambda: ffmpeg_children(worker_pid), 10, "the capture ffmpeg")
    send(capture, signal.SIGSTOP)
    hung = time.monotonic()

    # Then the task ends by itself with a clear error and the recording before the hang
    body = api.finished(task_id, timeout=90)
    send(capture, signal.SIGCONT)  # (already killed by the runtime; harmless)
    result = body["Result"]
    output = examine(result, lambda url: local_file(capstan_env, url))
    chaos_figures(
        "panorama: capture ffmpeg hung (SIGSTOP)",
        media_seconds_lost=(hung - started) - output.duration_s,
        one_playable_file=output.one_playable_file,
        error=result.get("ErrorCode"),
    )
    assert result["ErrorCode"] == "RecordFailed"
    assert "stalled" in result["ErrorMessage"]
    assert output.one_playable_file
    assert output.duration_s >= (hung - started) - 2 * float(FAST["CAPSTAN_SEGMENT_SECONDS"]) - 1.5
