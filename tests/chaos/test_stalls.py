"""A hung ffmpeg (SIGSTOP: alive, silent, writing nothing) in the recorder and the pusher.

The runtime notices no media progress for CAPSTAN_STALL_TIMEOUT_S and restarts the run:
the recorder counts it as the user dropping (a new run, one file without the hung part),
the pusher publishes again from its position. No task stays "recording" or "pushing"
with a hung ffmpeg.
"""

from __future__ import annotations

import signal
import time

import pytest

from tests.support import pusher_helpers as push
from tests.support import recorder_helpers as rec
from tests.support.api import HttpClient
from tests.support.chaos import FAST, SEGMENT_S, holder_pid, stop_and_examine, wait_for
from tests.support.procs import ffmpeg_children, gone, send
from workers.common.domain.store import default_store

pytestmark = pytest.mark.integration

STALL_S = 3
# Killing a hung ffmpeg: 'q', SIGINT and SIGTERM go unanswered (1 s each), then SIGKILL.
KILL_S = 3
STALLS = {**FAST, "CAPSTAN_STALL_TIMEOUT_S": str(STALL_S), "CAPSTAN_RECORDER_RETRY_MAX_S": "0.3"}


def hang_the_ffmpeg_of(store, task_id):
    """SIGSTOP the task's ffmpeg (a child of the worker holding the lease); its pid."""
    worker = wait_for(lambda: holder_pid(store, task_id), 10, "a worker holds the lease")
    (ffmpeg,) = wait_for(lambda: ffmpeg_children(worker), 10, "the task's ffmpeg")
    send(ffmpeg, signal.SIGSTOP)
    return worker, ffmpeg


def test_a_hung_recorder_pull_is_restarted_and_the_recording_stays_one_file(
    capstan_env_vars, capstan_env, rtmp_server, farm_process, lavfi_publisher, chaos_figures
):
    capstan_env_vars.update(STALLS)
    api = rec.RecorderApi(HttpClient(farm_process("dispatcher").url))
    farm_process("recorder", concurrency=1)
    store = default_store()
    lavfi_publisher(rec.push_url(capstan_env, 43474, "hung"))
    rtmp_server.wait_published(f"{rec.SDK_APP_ID}_43474_hung")

    # Given a user being recorded for a few seconds
    task_id = api.start(rec.seeds_request("hung", MaxIdleTime=30))
    present = api.wait_present(task_id)
    time.sleep(4)

    # When the recorder's ffmpeg hangs
    _, hung = hang_the_ffmpeg_of(store, task_id)
    try:
        # Then the runtime kills it and a new run records on
        timeout = STALL_S + KILL_S + 30
        wait_for(lambda: gone(hung), timeout, "the hung ffmpeg is killed")
        wait_for(lambda: second_run_listed(store, task_id), 30, "a second run stores a segment")
    finally:
        send(hung, signal.SIGCONT)  # (already killed by then; harmless)
    time.sleep(2)
    stopped, body, output = stop_and_examine(api, task_id, capstan_env, timeout=60)
    lost = (stopped - present) - output.duration_s
    chaos_figures(
        "recorder: capture ffmpeg hung (SIGSTOP)",
        media_seconds_lost=lost,
        one_playable_file=output.one_playable_file,
        output_s=output.duration_s,
        stall_timeout_s=float(STALL_S),
    )
    assert "ErrorCode" not in body["Result"], body["Result"]
    assert output.one_playable_file and output.streams == ("audio", "video")
    # What is lost: the hung time until the kill, the segment it had open, the new pull's
    # start; generous, on a busy 2-core machine.
    assert lost <= STALL_S + KILL_S + 2 * SEGMENT_S + 3
    names = [s["name"] for s in store.segments(task_id)]
    assert names == sorted(names)


def second_run_listed(store, task_id):
    return any(s["name"].startswith("e0001r0002") for s in store.segments(task_id))


def test_a_hung_push_is_restarted_from_its_position(
    capstan_env_vars, capstan_env, rtmp_server, farm_process, static_server, tmp_path,
    chaos_figures,
):  # fmt: skip
    capstan_env_vars.update(STALLS)
    api = push.PusherApi(HttpClient(farm_process("dispatcher").url))
    farm_process("pusher", concurrency=1)
    store = default_store()
    source = push.timecode_video(tmp_path / "media" / "timecode.mp4", 30)
    files = static_server(source.parent)
    stream = push.stream_name("hung")

    # Given a file being pushed for a few seconds
    task_id = api.start(push.pusher_request(files.url_for("timecode.mp4"), "hung"))
    api.wait_position(task_id, 4, timeout=40)

    # When its ffmpeg hangs
    worker, hung = hang_the_ffmpeg_of(store, task_id)
    at_hang = api.position(task_id)
    try:
        # Then the runtime kills it and publishes again from where it was
        wait_for(lambda: gone(hung), STALL_S + KILL_S + 30, "the hung ffmpeg is killed")
        wait_for(lambda: ffmpeg_children(worker), 30, "a new push ffmpeg")
    finally:
        send(hung, signal.SIGCONT)
    rtmp_server.wait_published(stream, timeout=30)
    frames = push.room_frames(rtmp_server.url(stream), 25, timeout=30)
    resumed_at = push.publish_start(frames)
    status = api.describe(task_id)["Status"]
    api.act("Stop", task_id)
    body = api.finished(task_id, timeout=60)

    # Resuming later than the position skips media (lost); earlier repeats a little.
    chaos_figures(
        "pusher: push ffmpeg hung (SIGSTOP)",
        media_seconds_lost=resumed_at - at_hang,
        one_playable_file=None,
        position_at_hang_s=at_hang,
        resumed_at_s=resumed_at,
    )
    assert status == "pushing"
    assert "ErrorCode" not in body["Result"], body["Result"]
    assert resumed_at == pytest.approx(at_hang, abs=SEGMENT_S)
