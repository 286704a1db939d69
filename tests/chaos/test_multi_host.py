"""A whole machine lost, on a farm whose machines share no disk (issue 12).

Given three hosts, each a network namespace on a bridge this test makes (tests/support/
hosts.py): "s" runs Redis, the S3 endpoint (moto), the RTMP room server and the
reconciler; "a" and "b" each run a dispatcher and a worker of every pool, each with its
own data directory. Output storage is S3, so segments wait in the bucket too.

When a recording (recorder), a page recording (panorama) and a push (pusher), all running
on host a, lose host a (every process killed at once, its data directory deleted), then
host b takes each of them over, Describe answers from b's dispatcher, each recording ends
as one playable file that lacks at most one segment plus the takeover time, the record
says how much was lost, and the push resumes where it was.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

import pytest

from tests.support import panorama_helpers as pano
from tests.support import pusher_helpers as push
from tests.support import recorder_helpers as rec
from tests.support.chaos import SEGMENT_S, examine, wait_for
from tests.support.cluster import Cluster
from tests.support.hosts import Network
from tests.support.http import StaticServer
from tests.support.tools import BROWSER_STACK, require

pytestmark = pytest.mark.integration

TOLERANCE_S = 2.5  # polling, ffmpeg's start and stop, a busy 2-core machine
TOOLS = ("ip", "redis-server", "nginx-rtmp", "python:moto.server", "python:granian", *BROWSER_STACK)


@pytest.fixture
def network(request, tmp_path):
    for tool in TOOLS:
        require(tool)
    net = Network(["s", "a", "b"], tmp_path / "hosts")
    failures = request.session.testsfailed
    try:
        yield net
    finally:
        if request.session.testsfailed > failures:
            print(net.report())
        net.close()


@pytest.fixture
def served(network, tmp_path):
    """The test pages and a timecode video, served on the bridge (from this process)."""
    video = push.timecode_video(tmp_path / "media" / "timecode.mp4", 60)
    servers = [StaticServer(where, network.address) for where in (pano.PAGES, video.parent)]
    yield servers
    for server in servers:
        server.close()


def apis(dispatcher: Any) -> dict[str, Any]:
    return {
        "recorder": rec.RecorderApi(dispatcher),
        "panorama": pano.PanoramaApi(dispatcher),
        "pusher": push.PusherApi(dispatcher),
    }


def takeovers(api: Any, task_id: str) -> int:
    return int(api.describe(task_id).get("Progress", {}).get("Takeovers", 0))


def test_a_lost_host_loses_no_recording(
    network, served, log_dir, tmp_path, lavfi_publisher, chaos_figures
):
    cluster = Cluster(network, log_dir)
    cluster.start_services()
    pages, files = served
    lavfi_publisher(cluster.room_url(f"{rec.SDK_APP_ID}_43474_lost"))

    # Given host a running a recording and a page recording
    on_a = apis(cluster.start_farm("a"))
    page = pano.page_url(pages.url, bg="ff0000")
    tasks = {
        "recorder": on_a["recorder"].start(rec.seeds_request("lost")),
        "panorama": on_a["panorama"].start(RecordURL=page, Width=640, Height=360),
    }
    page_recording = on_a["panorama"].wait_status(tasks["panorama"], "recording", timeout=90)
    started = {
        "recorder": on_a["recorder"].wait_present(tasks["recorder"], timeout=60),
        "panorama": page_recording["_seen"],
    }
    # and host b up (only now, so that host a got them), but for its pusher: host a gets
    # the push too, started last because its timecode source reads up to 36 s
    on_b = apis(cluster.start_farm("b", pools=("recorder", "panorama")))
    source = files.url_for("timecode.mp4")
    tasks["pusher"] = on_a["pusher"].start(push.pusher_request(source, "lost"))
    on_a["pusher"].wait_position(tasks["pusher"], 3, timeout=60)
    cluster.start_workers("b", ("pusher",))

    # When host a is lost: every process at once, and its disk
    at_kill = on_a["pusher"].position(tasks["pusher"])
    host_a = network.hosts["a"]
    host_a.crash()
    killed = time.monotonic()
    shutil.rmtree(host_a.data_dir)

    # Then host b takes every task over, and b's dispatcher answers for them
    taken = {}
    for service, task_id in tasks.items():
        api, what = on_b[service], f"host b takes the {service} over"
        wait_for(lambda: takeovers(api, task_id) >= 1, 120, what)
        taken[service] = time.monotonic()
    room = cluster.room_url(push.stream_name("lost"))
    frames = wait_for(lambda: push.room_frames(room, 25, timeout=20), 60, "the push in the room")
    time.sleep(2)
    stopped = {}
    for service, task_id in tasks.items():
        on_b[service].act("Stop", task_id)
        stopped[service] = time.monotonic()
    bodies = {s: on_b[s].wait_status(t, "finished", timeout=120) for s, t in tasks.items()}

    # Each recording: one playable file, lacking at most one segment plus the takeover
    checks = []
    for service in ("recorder", "panorama"):
        body = bodies[service]
        out = tmp_path / service / "output.mp4"
        output = examine(body["Result"], lambda url, out=out: cluster.download(url, out))
        lost = (stopped[service] - started[service]) - output.duration_s
        takeover_s = taken[service] - killed
        reported = float(body.get("Progress", {}).get("MediaLostSeconds", -1))
        chaos_figures(
            f"{service}: whole host lost (multi-host)",
            media_seconds_lost=lost,
            one_playable_file=output.one_playable_file,
            output_s=output.duration_s,
            takeover_s=takeover_s,
            reported_lost_s=reported,
        )
        checks.append((service, body, output, lost, takeover_s, reported))
    # The push: resumed from the position stored in Redis
    resumed_at = push.publish_start(frames)
    chaos_figures(
        "pusher: whole host lost (multi-host)",
        media_seconds_lost=resumed_at - at_kill,
        one_playable_file=None,
        position_at_kill_s=at_kill,
        resumed_at_s=resumed_at,
    )

    for service, body, output, lost, takeover_s, reported in checks:
        assert "ErrorCode" not in body["Result"], (service, body["Result"])
        assert output.one_playable_file and output.streams == ("audio", "video"), service
        assert lost <= SEGMENT_S + takeover_s + TOLERANCE_S, service
        # The record says what was lost: never less than the output lacks, and within
        # the promise (it counts wall time, a bound on media the room may still deliver)
        assert body["Progress"]["Takeovers"] == 1, service
        assert lost - TOLERANCE_S <= reported <= SEGMENT_S + takeover_s + TOLERANCE_S, service
    assert "ErrorCode" not in bodies["pusher"]["Result"], bodies["pusher"]["Result"]
    assert resumed_at == pytest.approx(at_kill, abs=SEGMENT_S)
    assert not host_a.pids()
