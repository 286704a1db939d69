"""Redis with Sentinel: the master SIGKILLed mid-recording and mid-push (issue 13).

Given a farm on a Sentinel group (tests/support/servers.py: a master, a replica, three
sentinels, all with passwords), a recording and a push running, and Starts arriving
every half second, when the master is SIGKILLed and a sentinel promotes the replica,
then: every Start answered 200 finishes, once (epoch 1, no takeover, one run); no
request got a 500 or hung; Describe answers again within the failover time (plus a
reconnect); Starts answer 503 until the group has a replica again (the old master,
restarted); the recording ends as one playable file missing at most a segment; the push
finishes; Flower shows the new master's queues; and the Redis passwords appear in no log
and no answer.
"""

from __future__ import annotations

import re
import time

import pytest
import requests

from tests.support import pusher_helpers as push
from tests.support import recorder_helpers as rec
from tests.support.api import HttpClient
from tests.support.chaos import FAST, SEGMENT_S, Traffic, stop_and_examine, wait_for
from workers.common.domain.store import default_store
from workers.common.runtime import probe

pytestmark = pytest.mark.integration

TOLERANCE_S = 2.5  # polling, ffmpeg's start and stop, a busy 2-core machine
RECONNECT_S = 3.0  # after the promotion: the sentinels told, connections retried
SLOW_S = 5.0  # no request may take longer (the dispatcher answers 503 instead)


def flower_broker_page(url: str) -> str | None:
    """Flower's Broker page once it shows the recorder's queue (read from the broker)."""
    answer = requests.get(f"{url}/broker", timeout=10)
    return answer.text if answer.ok and "recorder" in answer.text else None


def test_a_sentinel_failover_loses_no_task_and_no_media(
    on_sentinel, sentinel_group, capstan_env_vars, farm_process, rtmp_server,
    lavfi_publisher, static_server, tmp_path, chaos_figures,
):  # fmt: skip
    # A lease outlives the failover: the failover must not look like a dead worker.
    capstan_env_vars.update({**FAST, "CAPSTAN_LEASE_TTL_S": "15", **rec.RECORDER_TEST_ENV})
    # A Start whose message the failover lost is queued again within seconds, not a minute
    capstan_env_vars["CAPSTAN_UNSTARTED_REQUEUE_S"] = "10"
    dispatcher = farm_process("dispatcher")
    recorders = farm_process("recorder", concurrency=4)
    farm_process("pusher", concurrency=1)
    farm_process("reconciler")
    flower = farm_process("flower")
    client = HttpClient(dispatcher.url)
    recorder, pusher = rec.RecorderApi(client), push.PusherApi(client)
    store = default_store()

    # Given a recording and a push running
    lavfi_publisher(rec.push_url(on_sentinel, 43474, "failover"))
    rtmp_server.wait_published(f"{rec.SDK_APP_ID}_43474_failover")
    recording = recorder.start(rec.seeds_request("failover"))
    started = recorder.wait_present(recording, timeout=60)
    source = push.timecode_video(tmp_path / "media" / "timecode.mp4", 30)
    files = static_server(source.parent)
    pushing = pusher.start(push.pusher_request(files.url_for("timecode.mp4"), "failover"))
    pusher.wait_position(pushing, 3, timeout=60)

    # and Starts arriving (users nobody publishes: short tasks), Describes polling
    starts, describes = Traffic(), Traffic()
    absent = iter(range(10_000))

    def start_absent() -> tuple[int, dict]:
        return recorder.post(rec.seeds_request(f"absent{next(absent)}", MaxIdleTime=1))

    def describe() -> tuple[int, dict]:
        return recorder.post({"Action": "Describe", "Data": {"TaskID": recording}})

    starts.keep_sending(start_absent, every_s=0.5)
    describes.keep_sending(describe, every_s=0.2)
    time.sleep(2)

    # When the master dies
    old_master = sentinel_group.master_port()
    sentinel_group.kill_master()
    killed = time.monotonic()
    wait_for(lambda: sentinel_group.master_port() not in (None, old_master), 60, "a promotion")
    failover_s = time.monotonic() - killed
    back = wait_for(
        lambda: next((t for t, s, _ in describes.answers if t > killed and s == 200), None),
        failover_s + 30,
        "Describe answering again",
    )
    # and comes back, restarted as an orchestrator would: the sentinels make it the new
    # master's replica. Until then no replica confirms a Start: it answers 503 (retry).
    time.sleep(2)
    sentinel_group.revive_old_master()
    revived = time.monotonic()
    wait_for(lambda: starts.accepted_after(revived), 30, "a Start accepted again")
    time.sleep(3)
    for traffic in (starts, describes):
        traffic.stop()

    # Then the recording goes on and ends as one playable file
    stopped, finished, output = stop_and_examine(recorder, recording, on_sentinel, timeout=120)
    lost = (stopped - started) - output.duration_s
    pushed = pusher.finished(pushing, timeout=90)
    # Every accepted Start finishes, once: still its first epoch, never taken over
    for task_id in starts.accepted:
        recorder.wait_status(task_id, "finished", timeout=120)
    records = [store.get(task_id) for task_id in [*starts.accepted, recording, pushing]]
    segments = [item["name"] for item in store.segments(recording)]
    # Deliveries of each accepted Start, and the runs that finished it (a copy queued
    # again finds the task held or finished and does nothing)
    log = recorders.log.read_text()
    deliveries = {t: log.count(f"[{t}] succeeded in") for t in starts.accepted}
    finishing_runs = {
        t: len(re.findall(rf"\[{t}\] succeeded in [0-9.]+s: 'finished", log))
        for t in starts.accepted
    }
    # Flower and the workers' probe follow the new master too
    broker_page = wait_for(lambda: flower_broker_page(flower.url), 30, "Flower's broker page")
    assert probe.redis_problem(on_sentinel, timeout_s=2) is None

    chaos_figures(
        "recorder and pusher: Redis master SIGKILLed, Sentinel failover",
        media_seconds_lost=lost,
        one_playable_file=output.one_playable_file,
        recorded_s=stopped - started,
        output_s=output.duration_s,
        segments=len(segments),
        distinct_segments=len(set(segments)),
        pull_runs=len({name.split("_")[0] for name in segments}),  # e<epoch>r<run>_<n>.ts
        failover_s=failover_s,
        describe_back_s=back - killed,
        describe_503_s=describes.unavailable_s(),
        start_503_s=starts.unavailable_s(),
        replica_back_s=revived - killed,
        starts_accepted=len(starts.accepted),
        starts_refused_503=sum(1 for _, s, _ in starts.answers if s == 503),
        starts_delivered_twice=sum(1 for count in deliveries.values() if count > 1),
        slowest_request_s=max(starts.slowest(), describes.slowest()),
        reported_lost_s=float(finished.get("Progress", {}).get("MediaLostSeconds", 0)),
        push_position_s=float(pushed.get("Progress", {}).get("Position", 0)),
    )

    assert starts.statuses() <= {200, 503} and describes.statuses() <= {200, 503}, (
        starts.statuses() | describes.statuses()
    )
    assert max(starts.slowest(), describes.slowest()) < SLOW_S
    assert back - killed <= failover_s + RECONNECT_S
    assert starts.accepted_after(0) > starts.accepted_after(killed) >= 2  # before and after
    assert set(finishing_runs.values()) == {1}, finishing_runs
    assert all(r.status.value == "finished" and r.epoch == 1 for r in records), [
        (r.task_id, r.status, r.epoch) for r in records
    ]
    assert not any(r.progress.get("Takeovers") for r in records)
    assert "ErrorCode" not in finished["Result"], finished["Result"]
    assert output.one_playable_file and output.streams == ("audio", "video")
    assert lost <= SEGMENT_S + TOLERANCE_S
    assert len(segments) == len(set(segments))  # no media twice: each segment listed once
    assert "ErrorCode" not in pushed["Result"], pushed["Result"]
    # The passwords: in no farm log, no answer
    seen = farm_process.logs() + "".join(starts.bodies + describes.bodies) + str(finished)
    seen += broker_page
    for secret in (sentinel_group.password, sentinel_group.sentinel_password):
        assert secret not in seen
