"""The recorder, end to end: a room user publishes (ffmpeg lavfi over RTMP into nginx-rtmp),
a client sends the seeds' request to the dispatcher, a real recorder worker records, and
the file lands in storage (a real S3 endpoint, or the default local output) with the seeds'
callback. Outputs are checked with ffprobe and by their content (tones).
"""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from tests.support import media
from tests.support.api import Pool, local_file
from tests.support.publisher import GOP_S
from tests.support.recorder_helpers import (
    RECORDER_TEST_ENV,
    SDK_APP_ID,
    USER_SIG,
    RecorderApi,
    clip,
    push_url,
    seeds_request,
)
from tests.support.tools import free_port

pytestmark = pytest.mark.integration

POOL = Pool(RecorderApi)


@pytest.fixture
def farm_env(rtmp_server, s3_server):
    return RECORDER_TEST_ENV


def assert_seeds_body(body, user_id, room_id="", str_room_id=""):
    assert set(body) == {"SdkAppId", "RoomId", "StrRoomId", "UserId", "Files"}
    assert body["SdkAppId"] == str(SDK_APP_ID)
    assert (body["RoomId"], body["StrRoomId"], body["UserId"]) == (room_id, str_room_id, user_id)
    (entry,) = body["Files"]
    assert set(entry) == {"UserId", "RecordFile", "Status", "Message"}
    assert entry["UserId"] == user_id
    return entry


def test_mode_02_to_cos_with_own_keys_pause_resume_and_seeds_callback(
    api, worker, settings, rtmp_server, s3_server, lavfi_publisher, callback_receiver
):
    # Given a user publishing 640x360 H.264/AAC in room 43474
    user = "user_55952145"
    lavfi_publisher(push_url(settings, 43474, user))
    rtmp_server.wait_published(f"{SDK_APP_ID}_43474_{user}")
    bucket = s3_server.make_bucket("trtc-rec-123456789")
    cos = {"Region": "us-east-1", "Bucket": bucket, "Path": "/trtc",
           "SecretId": "AKIDrequest", "SecretKey": "request-secret"}  # fmt: skip

    # When the seeds' request (flat body) starts a recording, paused and resumed once
    task_id = api.start(seeds_request(user, CosConfig=cos, Callback=callback_receiver.url))
    present = api.wait_status(task_id, "recording", timeout=30)["_seen"]
    time.sleep(5)
    api.act("Pause", task_id)
    paused = time.monotonic()
    assert api.wait_status(task_id, "paused")["Status"] == "paused"
    time.sleep(3)
    api.act("Resume", task_id)
    resumed = time.monotonic()
    time.sleep(5)
    api.act("Stop", task_id)
    recorded = (paused - present) + (time.monotonic() - resumed)
    done = api.finished(task_id)

    # Then one MP4 of the time recorded is in the bucket under Path, with both tracks copied
    assert "ErrorCode" not in done["Result"], done["Result"]
    entry = assert_seeds_body(
        {k: done["Result"][k] for k in ("SdkAppId", "RoomId", "StrRoomId", "UserId", "Files")},
        user,
        room_id="43474",
    )
    assert entry["Status"] == 1 and entry["Message"] == "success"
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]]
    (key,) = keys
    assert key.startswith(f"trtc/{user}_") and key.endswith(".mp4")
    assert entry["RecordFile"].endswith(key)
    path = settings.data_dir / "check.mp4"
    s3_server.client().download_file(bucket, key, str(path))
    info = media.probe(path)
    video, audio = sorted(info["streams"], key=lambda s: s["codec_type"] != "video")
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 640, 360)
    assert (audio["codec_name"], audio["sample_rate"]) == ("aac", 48000)
    assert info["duration"] == pytest.approx(recorded, abs=1.0)
    assert media.tone_level(path, 1000) > -30

    # And the callback is the seeds' body, nothing more
    (call,) = callback_receiver.wait_for(1)
    assert call.json == {k: done["Result"][k] for k in call.json}
    assert assert_seeds_body(call.json, user, room_id="43474") == entry


def test_mode_00_mp3_in_a_str_room_and_one_recording_per_user(
    api, worker, settings, rtmp_server, lavfi_publisher
):
    # Given a user publishing a 1 kHz tone in a room named by a string with odd characters
    user, room = "pupil-7", "class 7b#1&2"
    lavfi_publisher(push_url(settings, room, user))
    body = seeds_request(user, RoomId=None, StrRoomId=room, Mode=None)  # Mode: 00 by default

    # When recording starts, a second Start for the same user in the same room is refused
    rtmp_server.wait_published(f"{SDK_APP_ID}_{quote(room, safe='')}_{user}")
    task_id = api.start(body)
    status, refused = api.post(body)
    assert status == 409 and refused["ErrorCode"] == "InvalidState"
    assert task_id in refused["ErrorMessage"]
    present = api.wait_status(task_id, "recording", timeout=30)["_seen"]
    time.sleep(5)
    api.act("Stop", task_id)
    recorded = time.monotonic() - present
    done = api.finished(task_id)

    # Then an MP3 of the audio alone, in the default storage, and the seeds' body
    entry = assert_seeds_body(
        {k: done["Result"][k] for k in ("SdkAppId", "RoomId", "StrRoomId", "UserId", "Files")},
        user,
        str_room_id=room,
    )
    assert entry["Status"] == 1, entry
    path = local_file(settings, entry["RecordFile"])
    assert path.name.startswith(f"{user}_") and path.suffix == ".mp3"
    info = media.probe(path)
    assert [(s["codec_type"], s["codec_name"]) for s in info["streams"]] == [("audio", "mp3")]
    assert info["duration"] == pytest.approx(recorded, abs=1.0)
    assert media.tone_level(path, 1000) > -30

    # And once it is finished, the same user can be recorded again
    again = api.start(body)
    assert again != task_id
    api.act("Stop", again)


def test_a_user_who_drops_and_returns_gives_one_file_without_the_gap(
    api, worker, settings, rtmp_server, lavfi_publisher, tmp_path
):
    # Given a user publishing a 1 kHz tone, recorded in Mode 02
    user = "dropper"
    first = lavfi_publisher(push_url(settings, 43474, user), tone_hz=1000)
    rtmp_server.wait_published(f"{SDK_APP_ID}_43474_{user}")
    task_id = api.start(seeds_request(user))
    present = api.wait_status(task_id, "recording", timeout=30)["_seen"]
    time.sleep(4)

    # When the user drops for 5 s and comes back with a 2 kHz tone for 8 s
    first.stop()
    gone = time.monotonic()
    api.wait_present(task_id, present=False)
    time.sleep(5 - (time.monotonic() - gone))
    back = time.monotonic()
    lavfi_publisher(push_url(settings, 43474, user), tone_hz=2000)
    time.sleep(8)
    api.act("Stop", task_id)
    recorded = (gone - present) + (time.monotonic() - back)
    done = api.finished(task_id)

    # Then one file holds both visits and not the 5 s between them
    (entry,) = done["Result"]["Files"]
    assert entry["Status"] == 1, entry
    path = local_file(settings, entry["RecordFile"])
    info = media.probe(path)
    assert sorted(s["codec_type"] for s in info["streams"]) == ["audio", "video"]
    # The recorder looks for a returning user every recorder_retry_max_s at most; ffmpeg
    # then reads the stream until both tracks show (the video's next keyframe) before it
    # writes anything (measured: 3-3.7 s): a Stop in that time would find nothing new.
    missed_at_return = settings.recorder_retry_max_s + GOP_S + 1.5
    assert recorded - missed_at_return <= info["duration"] <= recorded + 1.0, (info, recorded)
    head = clip(path, 0.5, 2, tmp_path / "head.wav")
    tail = clip(path, info["duration"] - 2.5, 2, tmp_path / "tail.wav")
    assert media.tone_level(head, 1000) > -30 > media.tone_level(head, 2000)
    assert media.tone_level(tail, 2000) > -30 > media.tone_level(tail, 1000)


def test_mode_01_ends_by_itself_when_the_user_is_away_for_max_idle_time(
    api, worker, settings, rtmp_server, lavfi_publisher
):
    # Given a recording in Mode 01 of a user who joins, publishes for a few seconds and leaves
    user = "leaver"
    task_id = api.start(seeds_request(user, Mode="01", MaxIdleTime=4))
    api.wait_status(task_id, "recording", timeout=30)
    present = time.monotonic()
    publisher = lavfi_publisher(push_url(settings, 43474, user), seconds=6)

    # When the user has left for MaxIdleTime, nobody sends Stop
    publisher.wait(timeout=20)
    recorded = time.monotonic() - present
    done = api.finished(task_id, timeout=30)

    # Then the recording ended by itself, with the video alone
    (entry,) = done["Result"]["Files"]
    assert entry["Status"] == 1, entry
    info = media.probe(local_file(settings, entry["RecordFile"]))
    assert [(s["codec_type"], s["codec_name"]) for s in info["streams"]] == [("video", "h264")]
    # Copied video can only begin at a keyframe: a user who joins after the recorder starts
    # is recorded from the first keyframe it receives (the test publisher sends one every
    # GOP_S; a server without a GOP cache does not replay the last one).
    assert recorded - GOP_S - 1.0 <= info["duration"] <= recorded + 1.0


def test_a_user_who_never_publishes_ends_with_status_0_and_says_so(
    api, worker, settings, callback_receiver
):
    task_id = api.start(
        seeds_request("ghost", RoomId=9, MaxIdleTime=2, Callback=callback_receiver.url)
    )

    done = api.finished(task_id, timeout=30)

    assert done["Result"]["ErrorCode"] == "UserNotPublished"
    (call,) = callback_receiver.wait_for(1)
    entry = assert_seeds_body(call.json, "ghost", room_id="9")
    assert entry["Status"] == 0 and entry["RecordFile"] == ""
    assert "user ghost never published in room 9" in entry["Message"]


def test_a_wrong_room_backend_url_ends_with_status_0_and_names_it(
    settings, capstan_env_vars, api, farm_process, callback_receiver
):
    # Given a farm whose room backend points at a port where nothing listens
    wrong = f"rtmp://127.0.0.1:{free_port()}/live/{{SdkAppId}}_{{Room}}_{{UserId}}"
    farm_process("recorder", env={"CAPSTAN_ROOM_PULL_TEMPLATE": wrong})

    task_id = api.start(seeds_request("someone", Callback=callback_receiver.url))
    done = api.finished(task_id, timeout=30)

    assert done["Result"]["ErrorCode"] == "RoomBackendUnreachable"
    (call,) = callback_receiver.wait_for(1)
    entry = assert_seeds_body(call.json, "someone", room_id="43474")
    assert entry["Status"] == 0
    assert "cannot reach the room backend" in entry["Message"]
    assert "Connection refused" in entry["Message"]
    assert USER_SIG not in entry["Message"]


def test_max_duration_limit_ends_the_recording(api, worker, settings, rtmp_server, lavfi_publisher):
    # Given a user publishing, recorded in Mode 00 with a 6 s MaxDurationLimit
    user = "talker"
    lavfi_publisher(push_url(settings, 43474, user))
    rtmp_server.wait_published(f"{SDK_APP_ID}_43474_{user}")
    task_id = api.start(seeds_request(user, Mode="00", MaxDurationLimit=6))

    # When nobody stops it
    done = api.finished(task_id, timeout=40)

    # Then it stopped by itself after about 6 s of recording
    (entry,) = done["Result"]["Files"]
    assert entry["Status"] == 1, entry
    info = media.probe(local_file(settings, entry["RecordFile"]))
    assert [s["codec_name"] for s in info["streams"]] == ["mp3"]
    assert info["duration"] == pytest.approx(6, abs=1.0)
