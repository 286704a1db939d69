"""panorama live outputs, end to end: a page recorded by a real worker is streamed to the
local RTMP server while it is recorded; a viewer (ffmpeg reading the stream, as a player
does) sees the page, stays connected through a Pause, and the file is whole whether the
live output works or not.
"""

from __future__ import annotations

import itertools
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support import media
from tests.support.api import Pool, local_file
from tests.support.panorama_helpers import PAGES, RED, PanoramaApi, close_to, page_url
from tests.support.servers import RtmpServer
from tests.support.tools import require_browser_stack, wait_until

pytestmark = pytest.mark.integration

POOL = Pool(PanoramaApi)
KEY = "class7_s3cr3t"  # the stream key: the live output's credential


@pytest.fixture
def farm_env(rtmp_server):
    require_browser_stack()
    return {"CAPSTAN_SEGMENT_SECONDS": "2", "CAPSTAN_PAGE_LOAD_TIMEOUT_S": "8"}


@pytest.fixture
def pages(static_server):
    return static_server(PAGES)


class Viewer:
    """A player of an RTMP stream: ffmpeg copying what it receives into a file."""

    def __init__(self, url: str, out: Path) -> None:
        self.out = out
        argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
                "-rw_timeout", "20000000", "-i", url, "-c", "copy", "-y", str(out)]  # fmt: skip
        self.proc = subprocess.Popen(argv, stderr=subprocess.DEVNULL)

    def connected(self) -> bool:
        return self.proc.poll() is None

    def wait_end(self, timeout: float) -> None:
        """Until the stream ends (the publisher leaves: the server ends its players)."""
        try:
            self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


def largest_gap_s(path: Path) -> float:
    """The longest time between two consecutive frames of the file."""
    argv = ["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
            "packet=pts_time", "-of", "csv=p=0", str(path)]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, check=True, timeout=60).stdout.decode()
    times = sorted(float(line) for line in out.split() if line.strip())
    return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


def live_outputs(api: PanoramaApi, task_id: str) -> list[dict[str, Any]]:
    outputs: list[dict[str, Any]] = api.describe(task_id).get("Progress", {}).get("LiveOutputs", [])
    return outputs


def wait_live_state(api: PanoramaApi, task_id: str, state: str, timeout: float = 30.0) -> Any:
    return wait_until(
        lambda: [o for o in live_outputs(api, task_id) if o["State"] == state],
        timeout, 0.3, f"a live output {state}",
    )  # fmt: skip


def test_the_live_stream_shows_the_page_and_stays_up_through_a_pause(
    api, worker, pages, rtmp_server, settings, tmp_path
):
    # Given a red page with a 440 Hz tone, recorded with a live output to the RTMP server
    stream = f"live-{KEY}"
    url = page_url(pages.url, bg="ff0000", tone=440)
    task_id = api.start(
        RecordURL=url, Width=640, Height=360, LiveOutputs=[{"Url": rtmp_server.url(stream)}]
    )
    api.wait_status(task_id, "recording")
    recording_since = time.monotonic()

    # When a viewer plays the stream while it is recorded
    published = rtmp_server.wait_published(stream, timeout=30)
    assert {s["codec_type"]: s["codec_name"] for s in published} == {
        "video": "h264",
        "audio": "aac",
    }
    (shown,) = wait_live_state(api, task_id, "live")
    assert shown["Url"] == f"rtmp://127.0.0.1:{rtmp_server.port}/live/***"
    assert shown["Attempts"] == 1
    viewer = Viewer(rtmp_server.url(stream), tmp_path / "viewer.flv")
    time.sleep(5)
    # and the recording pauses for longer than the server keeps an idle publisher (10 s)
    paused_at = time.monotonic()
    api.act("Pause", task_id)
    api.wait_status(task_id, "paused")
    wait_live_state(api, task_id, "paused", timeout=10)
    time.sleep(12)
    assert viewer.connected(), "the viewer was dropped during the pause"
    api.act("Resume", task_id)
    api.wait_status(task_id, "recording")
    resumed_at = time.monotonic()
    time.sleep(8)
    api.act("Stop", task_id)
    stopped_at = time.monotonic()
    done = api.finished(task_id)
    viewer.wait_end(timeout=30)

    # Then the viewer's one connection lasted from before the pause to the Stop
    seen = media.probe(viewer.out)
    assert media.codecs(viewer.out) == {"video": "h264", "audio": "aac"}
    (picture,) = [s for s in seen["streams"] if s["codec_type"] == "video"]
    assert (picture["width"], picture["height"]) == (640, 360)
    # and its timeline holds the pause (no jump, no hole): ~5 s + 12 s + 8 s
    watched = stopped_at - (paused_at - 5)
    assert watched - 6 <= seen["duration"] <= watched + 2, (seen["duration"], watched)
    # and it showed the page (red, with its tone), black while paused, then the page again
    assert close_to(media.frame_rgb(viewer.out, 2.0), RED)
    assert close_to(media.frame_rgb(viewer.out, 5 + 6.0), (0, 0, 0), tol=10)
    assert close_to(media.frame_rgb(viewer.out, seen["duration"] - 1.5), RED)
    assert media.tone_level(viewer.out, 440) > -45

    # and the file is the recording alone, without the pause
    assert "ErrorCode" not in done["Result"], done
    (video,) = done["Result"]["Videos"]
    path = local_file(settings, video["FileURL"])
    recorded = (paused_at - recording_since) + (stopped_at - resumed_at)
    assert recorded - 4 <= media.probe(path)["duration"] <= recorded + 1
    assert close_to(media.frame_rgb(path, 1.5), RED)
    # and Describe says the live output ended with the recording, its key never shown
    (final,) = done["Progress"]["LiveOutputs"]
    assert final["State"] == "ended"
    assert KEY not in repr(done)


def test_a_refused_live_url_is_retried_and_reported_and_the_file_is_whole(
    api, worker, pages, settings, tmp_path, log_dir
):
    # Given a live output whose server is not up yet (its port refuses)
    late = RtmpServer(tmp_path / "late-nginx", log_dir)
    stream = f"late-{KEY}"
    url = page_url(pages.url, bg="ff0000", tone=440)
    task_id = api.start(RecordURL=url, Width=640, Height=360,
                        LiveOutputs=[{"Url": late.url(stream)}], PauseFrame="slate")  # fmt: skip
    api.wait_status(task_id, "recording")
    recording_since = time.monotonic()

    # When it records, the output is retried with backoff, and Describe says why
    (failing,) = wait_until(
        lambda: [o for o in live_outputs(api, task_id) if o["Attempts"] >= 3],
        30, 0.3, "three attempts",
    )  # fmt: skip
    assert failing["State"] in ("retrying", "connecting")
    assert "Connection refused" in failing.get("LastError", "") or failing["State"] == "connecting"
    assert KEY not in repr(failing)

    # and once the server is up, the output goes live without a Start again
    late.start()
    try:
        wait_live_state(api, task_id, "live", timeout=45)
        assert late.is_publishing(stream)
    finally:
        late.stop()
    time.sleep(1)
    stopped_at = time.monotonic()
    api.act("Stop", task_id)
    done = api.finished(task_id)

    # Then the file is whole: all the recording, whatever the live output did
    assert "ErrorCode" not in done["Result"], done
    (video,) = done["Result"]["Videos"]
    path = local_file(settings, video["FileURL"])
    facts = media.probe(path)
    assert media.codecs(path) == {"video": "h264", "audio": "aac"}
    recorded = stopped_at - recording_since
    assert recorded - 4 <= facts["duration"] <= recorded + 1, (facts["duration"], recorded, done)
    assert largest_gap_s(path) < 0.5  # no hole where the live output failed or came back
    assert close_to(media.frame_rgb(path, facts["duration"] / 2), RED)
    assert KEY not in repr(done)
