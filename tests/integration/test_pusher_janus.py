"""The pusher into a WebRTC room: a real Janus VideoRoom, a real pusher worker publishing a
file as the user (ffmpeg encoding VP8/Opus, aiortc carrying it over WebRTC), and a real
browser participant in the room checking what arrives: the file's colour on the picture,
its tone in the sound. The position, Pause/Resume, Stop and bad rooms are as with RTMP.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.support.api import Pool
from tests.support.janus import JanusServer
from tests.support.janus_subscriber import AUDIBLE_RMS
from tests.support.pusher_helpers import PusherApi, pusher_request
from tests.support.tools import require, wait_until
from workers.pusher.progress import progress_key

pytestmark = pytest.mark.integration

POOL = Pool(PusherApi)
PIN = "push-room-pin-8812"
CLIP_S = 40
# The clip shows one colour for its first half and another for its second, so a frame the
# participant sees tells which half of the file it came from; and a tone throughout.
FIRST_HALF = (210, 60, 150)
SECOND_HALF = (40, 170, 230)
CLIP_TONE_HZ = 660.0
LIVE_TONE_HZ = 440


def two_colour_clip(out: Path, seconds: float) -> Path:
    """H.264/AAC in MP4: FIRST_HALF then SECOND_HALF, 640x360 25 fps, and the tone."""
    half = seconds / 2
    first, second = ("0x{:02X}{:02X}{:02X}".format(*c) for c in (FIRST_HALF, SECOND_HALF))
    picture = (
        f"color=c={first}:s=640x360:r=25:d={half}[a];"
        f"color=c={second}:s=640x360:r=25:d={half}[b];[a][b]concat=n=2:v=1:a=0[v]"
    )
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-filter_complex", picture, "-f", "lavfi", "-i", f"sine=f={CLIP_TONE_HZ}:r=48000",
         "-map", "[v]", "-map", "0:a", "-t", str(seconds),
         "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "96k", "-ac", "2", str(out)],
        check=True, timeout=120,
    )  # fmt: skip
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """The directory the test's web server serves: clip.mp4 (40 s), short.mp4 (4 s)."""
    require("ffmpeg")
    directory = tmp_path_factory.mktemp("push-clips")
    two_colour_clip(directory / "clip.mp4", CLIP_S)
    two_colour_clip(directory / "short.mp4", 4)
    return directory


@pytest.fixture
def farm_env(janus_server):
    return janus_server.env()


@pytest.fixture
def files(static_server, clips):
    return static_server(clips)


def publishing(janus_server: JanusServer, room: int, display: str) -> bool:
    people = janus_server.participants(room)
    return any(p["display"] == display and p.get("publisher") for p in people)


def assert_sees_the_clip(seen: dict, colour: tuple[int, int, int] = FIRST_HALF) -> None:
    """The clip's ``colour`` on the picture, its tone in the sound."""
    assert seen["width"] == 640 and seen["height"] == 360, seen
    for got, sent in zip(seen["centre"], colour, strict=True):
        assert abs(got - sent) <= 25, f"the picture is {seen['centre']}, the clip {colour}"
    assert seen["audioRms"] > AUDIBLE_RMS, seen
    assert abs(seen["audioPeakHz"] - CLIP_TONE_HZ) <= 50, seen


def test_a_file_is_pushed_into_the_room_and_a_participant_sees_and_hears_it(
    api, worker, janus_server, files, subscriber
):
    # Given a Janus room with a pin, and a participant in it waiting for "pushbot"
    room = janus_server.create_room(5101, pin=PIN)
    viewer = subscriber(room, "pushbot", pin=PIN)

    # When the pusher pushes an H.264/AAC file into the room as "pushbot"
    task_id = api.start(
        pusher_request(files.url_for("clip.mp4"), "pushbot", roomId=str(room), userSig=PIN)
    )
    api.wait_status(task_id, "pushing")

    # Then "pushbot" publishes in the room, and the participant sees and hears the clip
    assert publishing(janus_server, room, "pushbot")
    viewer.wait_receiving(timeout=30)
    assert_sees_the_clip(viewer.received())

    # And Describe shows the position moving through the file
    position = api.wait_position(task_id, 3.0, timeout=30)
    progress = api.describe(task_id)["Progress"]
    assert progress["Duration"] == pytest.approx(CLIP_S, abs=0.2)
    assert 3.0 <= position < CLIP_S

    # When it is stopped, the user leaves the room and the task ends without an error
    api.act("Stop", task_id)
    done = api.finished(task_id)
    assert "ErrorCode" not in done["Result"], done["Result"]
    wait_until(lambda: not publishing(janus_server, room, "pushbot"), 15, 0.2, "pushbot leaves")
    assert PIN not in str(done) and PIN not in worker.log.read_text()


def test_pause_leaves_the_room_and_resume_carries_on_from_the_position(
    api, worker, janus_server, files, subscriber, redis_server
):
    # Given a push with redis: true that has pushed about 5 s into a room
    room = janus_server.create_room(5102)
    src = files.url_for("clip.mp4")
    viewer = subscriber(room, "pausebot")
    task_id = api.start(pusher_request(src, "pausebot", roomId=str(room), redis=True))
    api.wait_position(task_id, 5.0, timeout=40)

    # When it is paused
    api.act("Pause", task_id)
    api.wait_status(task_id, "paused")

    # Then the user leaves the room, and the position is kept in Redis
    wait_until(lambda: not publishing(janus_server, room, "pausebot"), 15, 0.2, "pausebot leaves")
    kept = redis_server.client(2).hgetall(progress_key(src, "1400000000", str(room), "pausebot"))
    paused_at = float(kept["Position"])
    assert 5.0 <= paused_at < 10.0, kept
    time.sleep(2)
    assert api.position(task_id) == pytest.approx(paused_at, abs=0.5)

    # When it is resumed, the user publishes again from there, and the participant follows
    api.act("Resume", task_id)
    api.wait_status(task_id, "pushing")
    wait_until(lambda: publishing(janus_server, room, "pausebot"), 20, 0.2, "pausebot is back")
    viewer.wait_receiving(timeout=30)
    assert_sees_the_clip(viewer.received())
    resumed = api.wait_position(task_id, paused_at + 1.0, timeout=30)
    assert resumed < paused_at + 8.0, "the push started over instead of resuming"

    api.act("Stop", task_id)
    assert "ErrorCode" not in api.finished(task_id)["Result"]


@pytest.mark.parametrize(
    ("room", "sig", "says"),
    [(5999, PIN, "room 5999 does not exist"), (5103, "wrong-pin", "is not room 5103's pin")],
)
def test_a_missing_room_or_a_wrong_pin_is_refused(
    api, worker, janus_server, files, room, sig, says
):
    # Given a room with a pin (5103), and a room that does not exist (5999)
    janus_server.create_room(5103, pin=PIN) if room == 5103 else None

    # When a push names the missing room, or the wrong pin
    body = pusher_request(files.url_for("clip.mp4"), "refused", roomId=str(room), userSig=sig)
    done = api.finished(api.start(body), timeout=40)

    # Then it fails at once with PublishRefused, saying which, and the pin is nowhere in it
    assert done["Result"]["ErrorCode"] == "PublishRefused", done["Result"]
    assert says in done["Result"]["ErrorMessage"]
    assert PIN not in str(done) and "wrong-pin" not in str(done)
    assert "wrong-pin" not in worker.log.read_text() and PIN not in worker.log.read_text()


def test_janus_down_is_room_backend_unreachable(api, worker, janus_server, files):
    # Given a Janus that is not running
    janus_server.stop()
    try:
        # When a push starts
        body = pusher_request(files.url_for("clip.mp4"), "nobody", roomId="5104")
        done = api.finished(api.start(body), timeout=40)
    finally:
        janus_server.start()

    # Then it fails at once, saying the room backend cannot be reached
    assert done["Result"]["ErrorCode"] == "RoomBackendUnreachable", done["Result"]
    assert "did not answer" in done["Result"]["ErrorMessage"]


def test_seek_second_starts_the_push_there(api, worker, janus_server, files, subscriber):
    # Given a participant waiting for "seekbot" in a room
    room = janus_server.create_room(5105)
    viewer = subscriber(room, "seekbot")

    # When the clip is pushed from SeekSecond 25 (its second half)
    body = pusher_request(files.url_for("clip.mp4"), "seekbot", roomId=str(room), SeekSecond=25)
    task_id = api.start(body)

    # Then the participant sees the second half's colour, and the position counts from 25
    viewer.wait_receiving(timeout=30)
    assert_sees_the_clip(viewer.received(), SECOND_HALF)
    assert 25.0 <= api.wait_position(task_id, 26.0, timeout=30) < 33.0
    api.act("Stop", task_id)
    assert "ErrorCode" not in api.finished(task_id)["Result"]


def test_loop_plays_the_file_again_then_the_user_leaves(api, worker, janus_server, files):
    # Given a 4 s clip pushed with Loop 1 (two passes)
    room = janus_server.create_room(5106)
    body = pusher_request(files.url_for("short.mp4"), "loopbot", roomId=str(room), Loop=1)
    task_id = api.start(body)

    # When it has played (two passes of 4 s, in real time)
    wait_until(lambda: publishing(janus_server, room, "loopbot"), 20, 0.2, "loopbot joins")
    done = api.finished(task_id, timeout=40)

    # Then the task ends by itself after both passes, and the user has left the room
    assert "ErrorCode" not in done["Result"], done["Result"]
    assert done["Progress"]["Passes"] == 2
    assert done["StopTime"] - done["StartTime"] >= 7, "the passes were not played in real time"
    wait_until(lambda: not publishing(janus_server, room, "loopbot"), 15, 0.2, "loopbot leaves")


def test_a_live_rtmp_source_is_pushed_into_the_room_until_it_is_gone(
    api, worker, janus_server, rtmp_server, lavfi_publisher, subscriber
):
    # Given a live RTMP stream (a 440 Hz tone) and a participant waiting for "livebot"
    source = lavfi_publisher(rtmp_server.url("janus_live"), tone_hz=LIVE_TONE_HZ)
    rtmp_server.wait_published("janus_live")
    room = janus_server.create_room(5107)
    viewer = subscriber(room, "livebot")

    # When it is pushed into the room with MaxIdleTime 3
    body = pusher_request(rtmp_server.url("janus_live"), "livebot", roomId=str(room),
                          MaxIdleTime=3)  # fmt: skip
    task_id = api.start(body)

    # Then the participant hears the live tone
    viewer.wait_receiving(timeout=30)
    seen = viewer.received()
    assert (seen["width"], seen["height"]) == (640, 360)
    assert abs(seen["audioPeakHz"] - LIVE_TONE_HZ) <= 50, seen

    # And when the live stream ends, the task ends with SourceLost and the user leaves
    source.stop()
    result = api.finished(task_id, timeout=40)["Result"]
    assert result["ErrorCode"] == "SourceLost", result
    wait_until(lambda: not publishing(janus_server, room, "livebot"), 15, 0.2, "livebot leaves")
