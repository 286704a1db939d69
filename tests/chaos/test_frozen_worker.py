"""A recorder worker frozen mid-recording (SIGSTOP: a VM pause, a long GC, a stuck host)
that comes back after the task was given to another worker.

Given two recorder workers and the reconciler, when the worker holding a recording is
frozen with its ffmpeg, then its lease lapses and the other worker records on with epoch 2;
and when the frozen one is let go (SIGCONT), it stops at once without writing: its ffmpeg
is killed, no segment of epoch 1 is listed after the takeover, and the task finishes once
with one playable file whose segments are in recording order.
"""

from __future__ import annotations

import signal
import time

import pytest

from tests.support import recorder_helpers as rec
from tests.support.api import HttpClient
from tests.support.chaos import FAST, epoch_seconds, holder_pid, stop_and_examine, wait_for
from tests.support.procs import ffmpeg_children, gone, send
from workers.common.domain.store import default_store

pytestmark = pytest.mark.integration

FENCED_LINE = "another worker owns it now"


def epoch_names(store, task_id, epoch):
    return [s["name"] for s in store.segments(task_id) if s["name"].startswith(f"e{epoch:04d}")]


def test_a_frozen_recorder_that_comes_back_after_the_takeover_stops_without_writing(
    capstan_env_vars, capstan_env, rtmp_server, farm_process, lavfi_publisher,
    callback_receiver, chaos_figures,
):  # fmt: skip
    capstan_env_vars.update(FAST)
    api = rec.RecorderApi(HttpClient(farm_process("dispatcher").url))
    farm_process("reconciler")
    workers = [farm_process("recorder", concurrency=1) for _ in range(2)]
    store = default_store()
    lavfi_publisher(rec.push_url(capstan_env, 43474, "frozen"))
    rtmp_server.wait_published(f"{rec.SDK_APP_ID}_43474_frozen")

    # Given a recording running for a few seconds on one of the two workers
    request = rec.seeds_request("frozen", Callback=callback_receiver.url)
    task_id = api.start(request)
    present = api.wait_present(task_id)
    time.sleep(4)

    # When that worker is frozen, its ffmpeg with it
    pid = wait_for(lambda: holder_pid(store, task_id), 10, "a worker holds the lease")
    (frozen,) = [w for w in workers if w.pid == pid]
    pulls = wait_for(lambda: ffmpeg_children(pid), 10, "the worker's pull ffmpeg")
    for each in (pid, *pulls):
        send(each, signal.SIGSTOP)
    try:
        # Then the lease lapses and the other worker records on with epoch 2
        wait_for(lambda: epoch_seconds(store, task_id, 2) > 0, 40, "epoch 2 stores a segment")
        before_takeover = epoch_names(store, task_id, 1)
    finally:
        # And when the frozen worker comes back
        for each in (pid, *pulls):
            send(each, signal.SIGCONT)
    released = time.monotonic()

    # It stops at once: its ffmpeg is killed, the task left to the new owner
    wait_for(lambda: all(gone(p) for p in pulls), 15, "the old worker's ffmpeg exits")
    ffmpeg_gone_s = time.monotonic() - released
    wait_for(lambda: FENCED_LINE in frozen.log.read_text(), 15, "the old worker says fenced")
    time.sleep(3)
    stopped, body, output = stop_and_examine(api, task_id, capstan_env)
    callbacks = callback_receiver.wait_for(1)
    names = [s["name"] for s in store.segments(task_id)]
    chaos_figures(
        "recorder: worker frozen (SIGSTOP) then back after the takeover",
        media_seconds_lost=(stopped - present) - output.duration_s,
        one_playable_file=output.one_playable_file,
        output_s=output.duration_s,
        old_ffmpeg_gone_after_s=ffmpeg_gone_s,
        epoch1_segments_listed_late=len(epoch_names(store, task_id, 1)) - len(before_takeover),
    )
    assert "ErrorCode" not in body["Result"], body["Result"]
    assert epoch_names(store, task_id, 1) == before_takeover  # nothing listed late
    assert names == sorted(names) and names[0].startswith("e0001")
    assert output.one_playable_file and output.streams == ("audio", "video")
    assert output.duration_s == pytest.approx(
        epoch_seconds(store, task_id, 1) + epoch_seconds(store, task_id, 2), abs=1.5
    )
    assert len(callbacks) == 1 and store.get(task_id).epoch == 2
    assert frozen.alive()  # the worker itself lives on; only its claim on the task ended
