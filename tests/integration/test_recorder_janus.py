"""The recorder in a WebRTC room: a real Janus VideoRoom, a real WebRTC participant
(aiortc publishing a solid colour and a 1 kHz tone), a real recorder worker. The room
forwards the participant's RTP to the worker (rtp_forward: no visible participant joins),
and the file is checked as a viewer would: duration, codecs, the colour, the tone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.support import media
from tests.support.api import Pool, local_file
from tests.support.janus import (
    COLOUR,
    TONE_HZ,
    BrowserPublisher,
    JanusPublisher,
)
from tests.support.recorder_helpers import RECORDER_TEST_ENV, RecorderApi, clip, seeds_request

pytestmark = pytest.mark.integration

POOL = Pool(RecorderApi)
PIN = "room-pin-5521"


@pytest.fixture
def browser(janus_pages, janus_server, tmp_path) -> Iterator:
    """browser(room, display, pin=, colour=, tone_hz=): a Chromium participant publishing;
    every one leaves at the end."""
    started: list[BrowserPublisher] = []

    def join(room: int, display: str, **options) -> BrowserPublisher:
        where = tmp_path / f"browser-{len(started)}"
        one = BrowserPublisher(janus_pages, janus_server, room, display, where, **options)
        started.append(one)
        return one.start()

    yield join
    for one in started:
        one.leave()


@pytest.fixture
def farm_env(janus_server):
    return {**RECORDER_TEST_ENV, **janus_server.env()}


@pytest.fixture
def publisher(janus_server) -> Iterator[list[JanusPublisher]]:
    """publisher.append(JanusPublisher(...).start()): every one leaves at the end."""
    started: list[JanusPublisher] = []
    yield started
    for one in started:
        one.leave()


def recorded_file(api, settings, task_id):
    done = api.finished(task_id)
    assert "ErrorCode" not in done["Result"], done["Result"]
    (entry,) = done["Result"]["Files"]
    assert entry["Status"] == 1, entry
    return local_file(settings, entry["RecordFile"])


def assert_colour(path, t, colour=COLOUR):
    rgb = media.frame_rgb(path, t)
    assert all(abs(got - want) < 25 for got, want in zip(rgb, colour, strict=True)), (t, rgb)


def test_mode_02_records_the_participant_to_mp4_without_joining(
    api, worker, settings, janus_server, browser
):
    # Given a browser publishing a colour and a tone in a VideoRoom with a pin
    room, user = janus_server.create_room(4301, pin=PIN), "alice"
    browser(room, user, pin=PIN)

    # When the recorder records them for about 6 s (UserSig: the room's pin)
    started = time.monotonic()
    task_id = api.start(seeds_request(user, RoomId=room, Mode="02", UserSig=PIN))
    present = api.wait_present(task_id, timeout=30)
    # Nobody visible joined the room: the participant is still its only one
    assert [p["display"] for p in janus_server.participants(room)] == [user]
    time.sleep(6)
    api.act("Stop", task_id)
    stopped = time.monotonic()
    path = recorded_file(api, settings, task_id)

    # Then an MP4 with H.264 and AAC, as long as the time recorded, of what they sent. The
    # media starts when the room starts forwarding (before Describe's UserPresent: ffmpeg
    # writes its first bytes once it has read a keyframe of each stream), and ends at Stop.
    assert path.suffix == ".mp4"
    assert media.codecs(path) == {"video": "h264", "audio": "aac"}
    duration = float(media.probe(path)["duration"])
    assert stopped - present - 1.0 <= duration <= stopped - started + 1.0, duration
    assert_colour(path, duration / 2)
    assert media.tone_level(path, TONE_HZ) > -30
    # And the pin (UserSig) is in neither Describe nor the worker's log
    assert PIN not in str(api.describe(task_id)) and PIN not in worker.log.read_text()


def test_mode_00_records_the_participant_to_mp3(api, worker, settings, janus_server, browser):
    # Given a browser publishing in a room without a pin
    room, user = janus_server.create_room(4302), "bob"
    browser(room, user)

    # When the recorder records their sound for about 5 s
    started = time.monotonic()
    task_id = api.start(seeds_request(user, RoomId=room, Mode="00"))
    present = api.wait_present(task_id, timeout=30)
    time.sleep(5)
    api.act("Stop", task_id)
    stopped = time.monotonic()
    path = recorded_file(api, settings, task_id)

    # Then an MP3 of the tone alone
    assert path.suffix == ".mp3"
    info = media.probe(path)
    assert [(s["codec_type"], s["codec_name"]) for s in info["streams"]] == [("audio", "mp3")]
    assert stopped - present - 1.0 <= float(info["duration"]) <= stopped - started + 1.0
    assert media.tone_level(path, TONE_HZ) > -30


def test_mode_01_records_the_picture_alone_of_a_str_room_id(
    api, worker, settings, janus_server, publisher
):
    # Given an aiortc participant publishing in room 4306, named by its StrRoomId
    room, user = janus_server.create_room(4306), "dana"
    publisher.append(JanusPublisher(janus_server.url, room, user).start())

    # When the recorder records their picture (Mode 01) for about 4 s
    task_id = api.start(seeds_request(user, RoomId=None, StrRoomId=str(room), Mode="01"))
    api.wait_present(task_id, timeout=30)
    time.sleep(4)
    api.act("Stop", task_id)
    path = recorded_file(api, settings, task_id)

    # Then an MP4 of H.264 video alone, showing the participant's colour
    assert path.suffix == ".mp4"
    assert media.codecs(path) == {"video": "h264"}
    duration = float(media.probe(path)["duration"])
    assert duration >= 2.0, duration
    assert_colour(path, duration / 2)


@pytest.mark.parametrize(
    ("room", "sig", "says"),
    [(4999, PIN, "room 4999 does not exist"), (4303, "wrong-pin", "is not room 4303's pin")],
)
def test_a_missing_room_or_a_wrong_pin_is_refused(api, worker, janus_server, room, sig, says):
    # Given a room with a pin (4303), and a room that does not exist (4999)
    janus_server.create_room(4303, pin=PIN) if room == 4303 else None

    # When a recording names the missing room, or the wrong pin
    task_id = api.start(seeds_request("carol", RoomId=room, UserSig=sig))
    done = api.finished(task_id, timeout=30)

    # Then it fails at once with RoomRefused, saying which, and the pin is nowhere in it
    assert done["Result"]["ErrorCode"] == "RoomRefused", done["Result"]
    assert says in done["Result"]["ErrorMessage"]
    assert PIN not in str(done) and "wrong-pin" not in str(done)
    assert "wrong-pin" not in worker.log.read_text()


def test_a_user_who_never_publishes_ends_by_idle(api, worker, janus_server, publisher):
    # Given a room where someone else publishes, but not the recorded user
    room = janus_server.create_room(4304)
    publisher.append(JanusPublisher(janus_server.url, room, "someone-else").start())

    # When the recorder waits for "dave" for MaxIdleTime
    task_id = api.start(seeds_request("dave", RoomId=room, MaxIdleTime=3))
    done = api.finished(task_id, timeout=30)

    # Then it ends by itself with UserNotPublished
    assert done["Result"]["ErrorCode"] == "UserNotPublished", done["Result"]


def test_janus_down_is_room_backend_unreachable(api, worker, janus_server):
    # Given a Janus that is not running
    janus_server.stop()
    try:
        # When a recording starts
        task_id = api.start(seeds_request("erin", RoomId=4305))
        done = api.finished(task_id, timeout=30)
    finally:
        janus_server.start()

    # Then it fails at once, saying the room backend cannot be reached
    assert done["Result"]["ErrorCode"] == "RoomBackendUnreachable", done["Result"]


def test_a_participant_who_drops_and_returns_gives_one_file_without_the_gap(
    api, worker, settings, janus_server, publisher, tmp_path
):
    # Given a participant recorded in Mode 02, sending green and a 1 kHz tone
    room, user = janus_server.create_room(4306), "frank"
    first = JanusPublisher(janus_server.url, room, user).start()
    started = time.monotonic()
    task_id = api.start(seeds_request(user, RoomId=room, Mode="02"))
    api.wait_present(task_id, timeout=30)
    time.sleep(4)

    # When they leave the room for about 5 s and come back sending blue and a 2 kHz tone
    first.leave()
    gone = time.monotonic()
    api.wait_present(task_id, present=False)
    time.sleep(max(0.0, 5 - (time.monotonic() - gone)))
    back = time.monotonic()
    blue = (30, 60, 220)
    publisher.append(
        JanusPublisher(janus_server.url, room, user, colour=blue, tone_hz=2000).start()
    )
    api.wait_present(task_id, timeout=30)
    time.sleep(5)
    api.act("Stop", task_id)
    stopped = time.monotonic()
    path = recorded_file(api, settings, task_id)

    # Then one file holds both visits, not the time between them
    duration = float(media.probe(path)["duration"])
    assert duration <= (gone - started) + (stopped - back) + 1.0, duration
    assert duration >= (stopped - back) + 2.0, duration
    head = clip(path, 0.5, 1.5, tmp_path / "head.wav")
    tail = clip(path, duration - 2.0, 1.5, tmp_path / "tail.wav")
    assert media.tone_level(head, 1000) > -30 > media.tone_level(head, 2000)
    assert media.tone_level(tail, 2000) > -30 > media.tone_level(tail, 1000)
    assert_colour(path, 1.0)
    assert_colour(path, duration - 1.0, blue)
