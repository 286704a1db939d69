"""A worker killed with SIGKILL mid-recording or mid-push, on a farm of real processes.

Given a dispatcher (granian), two workers of the pool and the reconciler, when the worker
holding a task is killed, then its lease lapses, the reconciler re-enqueues the task with
the next epoch, the other worker carries on, the old epoch can no longer write, and the
output is ONE file with everything recorded before and after the crash, minus at most one
segment's worth of media around it.
"""

from __future__ import annotations

import time

import pytest

from tests.support import avsync
from tests.support import panorama_helpers as pano
from tests.support import pusher_helpers as push
from tests.support import recorder_helpers as rec
from tests.support.api import HttpClient
from tests.support.bare_capture import SIZE, assert_in_sync, flash_url
from tests.support.chaos import (
    SEGMENT_S,
    epoch_seconds,
    holder_pid,
    stop_and_examine,
    wait_for,
)
from tests.support.tools import require_browser_stack
from workers.common.domain.store import default_store

pytestmark = pytest.mark.integration

TOLERANCE_S = 1.5  # polling and ffmpeg's own start/stop, on a busy 2-core machine
SYNC_MS = 20.0  # issue 11: a beep within 20 ms of its flash, the sender's offset being 0


def kill_the_holder(workers, store, task_id):
    pid = wait_for(lambda: holder_pid(store, task_id), 10, "a worker holds the lease")
    (doomed,) = [w for w in workers if w.pid == pid]
    doomed.kill()
    return doomed, time.monotonic()


def test_recorder_killed_mid_recording_is_taken_over_and_gives_one_file(
    farm, farm_process, capstan_env, rtmp_server, lavfi_publisher, chaos_figures
):
    store = default_store()
    workers = [farm_process("recorder", concurrency=1) for _ in range(2)]
    api = rec.RecorderApi(HttpClient(farm.url))
    lavfi_publisher(rec.push_url(capstan_env, 43474, "crash"), flashbeep=True)
    rtmp_server.wait_published(f"{rec.SDK_APP_ID}_43474_crash")

    # Given a recording running for a few seconds on one of the two workers
    task_id = api.start(rec.seeds_request("crash"))
    present = api.wait_present(task_id)
    time.sleep(5)

    # When that worker is killed
    doomed, killed = kill_the_holder(workers, store, task_id)
    recorded_before = killed - present

    # Then the reconciler gives the task epoch 2 and the other worker records on
    wait_for(lambda: epoch_seconds(store, task_id, 2) > 0, 40, "epoch 2 stores a segment")
    assert store.get(task_id).epoch == 2
    # The old epoch can no longer write (fencing), should the old worker come back
    late = {"name": "e0001r9999_00000.ts", "key": "x", "duration": 1, "size": 1}
    assert not store.add_segment(task_id, 1, late)
    time.sleep(3)
    stopped, body, output = stop_and_examine(api, task_id, capstan_env)
    before = epoch_seconds(store, task_id, 1)
    after = epoch_seconds(store, task_id, 2)
    lost = recorded_before - before
    sync = avsync.measure(output.path) if output.path else None
    chaos_figures(
        "recorder: worker SIGKILL mid-recording",
        media_seconds_lost=lost,
        one_playable_file=output.one_playable_file,
        output_s=output.duration_s,
        takeover_gap_s=(stopped - present) - output.duration_s,
        sync=sync.summary() if sync else None,
    )
    assert "ErrorCode" not in body["Result"], body["Result"]
    assert output.one_playable_file and output.streams == ("audio", "video")
    # Every beep still on its flash after the takeover, within SYNC_MS (issue 11). The
    # audio's holes at the epoch boundary are only reported (chaos figures' sync): the
    # next run starts after the later of the two streams' ends, see test_recorder_sync's
    # xfail; assert them here too once that is fixed.
    assert sync is not None and len(sync.pairs) == len(sync.flashes) >= 3, sync
    assert max(abs(offset) for offset in sync.offsets_ms) <= SYNC_MS, sync.summary()
    assert lost <= SEGMENT_S + TOLERANCE_S
    assert output.duration_s == pytest.approx(before + after, abs=TOLERANCE_S)
    names = [s["name"] for s in store.segments(task_id)]
    assert names == sorted(names) and names[0].startswith("e0001") and after > 0
    assert not doomed.alive()


def test_pusher_killed_mid_push_resumes_from_the_stored_position(
    farm, farm_process, capstan_env, rtmp_server, static_server, tmp_path, chaos_figures
):
    store = default_store()
    source = push.timecode_video(tmp_path / "media" / "timecode.mp4", 30)
    files = static_server(source.parent)
    workers = [farm_process("pusher", concurrency=1) for _ in range(2)]
    api = push.PusherApi(HttpClient(farm.url))

    # Given a push running for a few seconds on one of the two workers
    task_id = api.start(push.pusher_request(files.url_for("timecode.mp4"), "crash"))
    api.wait_position(task_id, 4, timeout=40)

    # When that worker is killed
    at_kill = api.position(task_id)
    kill_the_holder(workers, store, task_id)
    stream = push.stream_name("crash")
    wait_for(lambda: not rtmp_server.is_publishing(stream, 3), 20, "the old push is gone")

    # Then the other worker takes it over (epoch 2) and resumes where it was
    wait_for(lambda: store.get(task_id).epoch == 2, 30, "the reconciler gives epoch 2")
    rtmp_server.wait_published(stream, timeout=40)
    frames = push.room_frames(rtmp_server.url(push.stream_name("crash")), 25, timeout=40)
    resumed_at = push.publish_start(frames)
    api.act("Stop", task_id)
    body = api.finished(task_id, timeout=60)

    # At least at_kill was pushed before the kill: resuming later skips media (an upper
    # bound of what was skipped); resuming earlier pushes a second or so twice.
    lost = resumed_at - at_kill
    chaos_figures(
        "pusher: worker SIGKILL mid-push",
        media_seconds_lost=lost,
        one_playable_file=None,
        position_at_kill_s=at_kill,
        resumed_at_s=resumed_at,
    )
    assert "ErrorCode" not in body["Result"], body["Result"]
    assert resumed_at == pytest.approx(at_kill, abs=SEGMENT_S)  # from the stored second


def test_panorama_killed_mid_recording_is_taken_over_and_gives_one_file(
    farm, farm_process, capstan_env, flash_pages, bare_yardstick, chaos_figures
):
    require_browser_stack()
    store = default_store()
    workers = [farm_process("panorama", concurrency=1) for _ in range(2)]
    api = pano.PanoramaApi(HttpClient(farm.url))

    # Given the flash-and-beep page being recorded for a few seconds
    task_id = api.start(RecordURL=flash_url(flash_pages.url), Width=SIZE.width, Height=SIZE.height)
    api.wait_status(task_id, "recording")
    started = time.monotonic()
    time.sleep(5)

    # When the worker recording it is killed (and its Chromium and ffmpeg with it)
    _, killed = kill_the_holder(workers, store, task_id)

    # Then the other worker opens the page again and records on
    wait_for(lambda: epoch_seconds(store, task_id, 2) > 0, 60, "epoch 2 stores a segment")
    time.sleep(4)  # two events or more after the takeover
    stopped, body, output = stop_and_examine(api, task_id, capstan_env)
    before = epoch_seconds(store, task_id, 1)
    after = epoch_seconds(store, task_id, 2)
    lost = (killed - started) - before
    chaos_figures(
        "panorama: worker SIGKILL mid-recording",
        media_seconds_lost=lost,
        one_playable_file=output.one_playable_file,
        output_s=output.duration_s,
        takeover_gap_s=(stopped - started) - output.duration_s,
    )
    assert "ErrorCode" not in body["Result"], body["Result"]
    assert output.one_playable_file and output.streams == ("audio", "video")
    assert lost <= SEGMENT_S + TOLERANCE_S
    assert output.duration_s == pytest.approx(before + after, abs=TOLERANCE_S)
    # and the sound is on the picture on both sides of the takeover (not shifted by the gap)
    sync = avsync.measure(output.path)
    assert_in_sync(sync, bare_yardstick, at_least=3)
    assert sync.pairs[-1].flash_s > before + 1.0, "events after the takeover are in the file"
