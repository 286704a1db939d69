"""Snapshots (issue 16), end to end: a page recorded by a real panorama worker and a room
user recorded by a real recorder worker, each with Snapshots; the stills are checked as a
user would: they are there while it records, each shows what the recording shows at its
Time (the frame in the delivered file at that second), the last one its last frame, and the
Result and the callback list them.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support import media
from tests.support.api import local_file
from tests.support.frames import Box
from tests.support.panorama_helpers import RED, PanoramaApi, close_to, page_url
from tests.support.recorder_helpers import (
    RECORDER_TEST_ENV,
    SDK_APP_ID,
    RecorderApi,
    push_url,
    seeds_request,
)
from tests.support.tools import require_browser_stack

pytestmark = pytest.mark.integration

INTERVAL_S = 2
SNAPSHOTS_ENV = {**RECORDER_TEST_ENV, "CAPSTAN_PAGE_LOAD_TIMEOUT_S": "8"}
# How close a snapshot's frame must be to the file's frame at its Time (a frame or two:
# the file's frame is found by seeking, and a busy page repeats frames).
TIME_TOLERANCE_S = 0.15
CHANGED_GREY = 64  # a pixel this much lighter or darker is another picture, not noise


@pytest.fixture
def farm_env(rtmp_server):
    return SNAPSHOTS_ENV


@pytest.fixture
def pages(static_server):
    from tests.support.panorama_helpers import PAGES

    return static_server(PAGES)


def grey(path: Path, box: Box, *, start: float | None = None, seconds: float = 0) -> np.ndarray:
    """The box of an image, or of the frames of a video from ``start`` for ``seconds``:
    an (n, h, w) array of grey levels."""
    seek = [] if start is None else ["-ss", f"{max(start, 0):.3f}"]
    span = ["-t", f"{seconds:.3f}"] if seconds else ["-frames:v", "1"]
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", *seek, "-i", str(path),
            *span, "-vf", f"crop={box.w}:{box.h}:{box.x}:{box.y}", "-f", "rawvideo",
            "-pix_fmt", "gray", "-"]  # fmt: skip
    data = subprocess.run(argv, capture_output=True, check=True, timeout=60).stdout
    assert data, f"no frame in {path}"
    return np.frombuffer(data, np.uint8).reshape(-1, box.h, box.w).astype(int)


def image_rgb(path: Path) -> tuple[float, float, float]:
    """An image's average colour. (Not media.frame_rgb: its -ss finds no frame in a lone
    image that ffmpeg reads as 0.04 s long, as it does "<TaskID>_end.jpg".)"""
    argv = ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-vf", "scale=64:64",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]  # fmt: skip
    data = np.frombuffer(subprocess.run(argv, capture_output=True, check=True).stdout, np.uint8)
    r, g, b = data.reshape(-1, 3).mean(axis=0)
    return float(r), float(g), float(b)


def video_span(path: Path) -> tuple[float, float]:
    """When the file's picture starts and ends (a recorder may get sound first)."""
    raw = media.probe(path)["raw"]["streams"]
    (stream,) = [s for s in raw if s["codec_type"] == "video"]
    start = float(stream.get("start_time") or 0)
    return start, start + float(stream["duration"])


def frames_like(snapshot: Path, video: Path, at: float, box: Box) -> tuple[float, float]:
    """How much the snapshot differs from the file's frame at ``at`` (the closest of those
    a tolerance around it) and from its frames a second away (the closest of those), in
    box. Before the picture starts a player shows its first frame."""
    first, last = video_span(video)
    at = min(max(at, first), last - 0.05)
    still = grey(snapshot, box)[0]
    near = grey(video, box, start=at - TIME_TOLERANCE_S, seconds=2 * TIME_TOLERANCE_S)
    away = [at + d for d in (-1.0, 1.0) if first <= at + d <= last - 0.2]
    far = np.concatenate([grey(video, box, start=t - 0.1, seconds=0.2) for t in away])
    return min(changed(f, still) for f in near), min(changed(f, still) for f in far)


def changed(a: np.ndarray, b: np.ndarray) -> float:
    """The share of pixels that differ between two pictures beyond coding noise: 0 for the
    same frame (JPEG against H.264), a few percent for the counter's next digits."""
    return float((np.abs(a - b) > CHANGED_GREY).mean())


def assert_snapshots_show_the_recording(
    done: dict[str, Any], settings: Any, video: Path, box: Box, size: tuple[int, int]
) -> list[Path]:
    """Result.Snapshots: every IntervalSeconds from 0, then the last frame, each a JPEG of
    the recording's size showing the file's frame at its Time."""
    _, video_end = video_span(video)
    snaps = done["Result"]["Snapshots"]
    times = [s["Time"] for s in snaps]
    # 0, 2, 4... up to the picture's end (none missing, none past it), then the last frame
    assert times[:-1] == [i * INTERVAL_S for i in range(len(times) - 1)], times
    assert video_end - INTERVAL_S - 0.1 < times[-2] < video_end, (times, video_end)
    assert times[-1] == pytest.approx(video_end, abs=0.1)
    assert snaps[-1]["Filename"] == f"{done['TaskID']}_end.jpg"
    paths = []
    for snap in snaps:
        path = local_file(settings, snap["FileURL"])
        assert path.name == snap["Filename"] and path.parent.name == "snapshots"
        (stream,) = media.probe(path)["streams"]
        assert (stream["codec_name"], stream["width"], stream["height"]) == ("mjpeg", *size)
        same, other = frames_like(path, video, snap["Time"], box)
        assert same < 0.002 and other > 0.005, (snap, same, other)
        paths.append(path)
    return paths


# ---- panorama: a page ------------------------------------------------------------------


def test_panorama_snapshots_show_the_page_at_their_times(
    dispatcher_client, farm_process, pages, settings, callback_receiver
):
    # Given a red page with a frame counter (top left), recorded with a snapshot every 2 s
    require_browser_stack()
    api = PanoramaApi(dispatcher_client)
    farm_process("panorama")
    task_id = api.start(
        RecordURL=page_url(pages.url, bg="ff0000"),
        Width=320,
        Height=240,
        CallbackURL=callback_receiver.url,
        Snapshots={"IntervalSeconds": INTERVAL_S},
    )

    # When it records, the first snapshots are stored and counted while it goes on
    api.wait_status(task_id, "recording")
    deadline = time.monotonic() + 60  # they run at a lower priority than the capture
    while api.describe(task_id).get("Progress", {}).get("Snapshots", 0) < 1:
        assert time.monotonic() < deadline, api.describe(task_id)
        time.sleep(0.2)
    during = api.describe(task_id)
    assert "SnapshotState" not in during["Progress"]
    folder = settings.output_dir / task_id / "snapshots"
    assert (folder / f"{task_id}_000000.jpg").exists()
    time.sleep(3)
    api.act("Stop", task_id)
    done = api.finished(task_id)

    # Then the Result lists them, each red and showing the counter the file shows then
    assert "ErrorCode" not in done["Result"], done["Result"]
    (video,) = done["Result"]["Videos"]
    mp4 = local_file(settings, video["FileURL"])
    counter = Box(0, 0, 120, 36)
    paths = assert_snapshots_show_the_recording(done, settings, mp4, counter, (320, 240))
    for path in paths:
        assert close_to(image_rgb(path), RED)
    assert done["Progress"]["Snapshots"] == len(paths)

    # and the callback carries the same list in its Result
    (call,) = callback_receiver.wait_for(1)
    assert call.json["Result"]["Snapshots"] == done["Result"]["Snapshots"]


# ---- recorder: a room user ---------------------------------------------------------------


def test_recorder_snapshots_show_the_user_at_their_times_and_reach_the_callback(
    dispatcher_client, farm_process, settings, rtmp_server, lavfi_publisher, callback_receiver
):
    # Given a user publishing a moving test pattern, recorded (Mode 02) with snapshots
    api = RecorderApi(dispatcher_client)
    farm_process("recorder")
    user = "snapper"
    lavfi_publisher(push_url(settings, 43474, user))
    rtmp_server.wait_published(f"{SDK_APP_ID}_43474_{user}")
    body = seeds_request(
        user, Callback=callback_receiver.url, Snapshots={"IntervalSeconds": INTERVAL_S}
    )

    # When it records ~7 s and stops
    task_id = api.start(body)
    api.wait_present(task_id)
    time.sleep(7)
    api.act("Stop", task_id)
    done = api.finished(task_id)

    # Then every snapshot is the frame the file shows at its Time (the whole picture moves)
    assert "ErrorCode" not in done["Result"], done["Result"]
    mp4 = local_file(settings, done["Result"]["Files"][0]["RecordFile"])
    whole = Box(0, 0, 640, 360)
    assert_snapshots_show_the_recording(done, settings, mp4, whole, (640, 360))

    # and the callback is the seeds' body with the snapshots beside it
    (call,) = callback_receiver.wait_for(1)
    assert set(call.json) == {"SdkAppId", "RoomId", "StrRoomId", "UserId", "Files", "Snapshots"}
    assert call.json["Snapshots"] == done["Result"]["Snapshots"]
