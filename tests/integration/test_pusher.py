"""The pusher, end to end: a client sends the seeds' request to the dispatcher, a real
pusher worker publishes videoSrc into the room (nginx-rtmp), and a subscriber (ffmpeg
pulling the room) checks what arrives: codecs, real-time pacing, and, from frames that
show their own time in the source, where in the source the push started.
"""

from __future__ import annotations

import itertools
import time

import pytest

from tests.support.api import Pool
from tests.support.pusher_helpers import (
    USER_SIG,
    PusherApi,
    pacing,
    publish_start,
    pusher_request,
    room_frames,
    stream_name,
    timecode_video,
)
from tests.support.tools import free_port, require, wait_until
from workers.pusher.progress import progress_key

pytestmark = pytest.mark.integration

POOL = Pool(PusherApi)

SOURCE_S = 30  # the timecode file's length


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """Timecode files: H.264/AAC (copied) and MPEG-4/MP3 (encoded)."""
    require("ffmpeg")
    directory = tmp_path_factory.mktemp("pusher-media")
    return {
        "h264": timecode_video(directory / "timecode.mp4", SOURCE_S),
        "mpeg4": timecode_video(directory / "timecode.mkv", SOURCE_S, codec="mpeg4"),
        "short": timecode_video(directory / "short.mp4", 5),
    }


@pytest.fixture
def farm_env(rtmp_server, s3_server):
    return {}


@pytest.fixture
def files(static_server, media):
    """The media served over HTTP by the test."""
    return static_server(media["h264"].parent)


def stored(redis_server, video_src, user_id):
    key = progress_key(video_src, "1400000000", "8848", user_id)
    return redis_server.client(2).hgetall(key)


def wait_gone(rtmp_server, user_id, timeout=15.0):
    wait_until(lambda: not rtmp_server.is_publishing(stream_name(user_id), 3), timeout, 0.2)


def test_http_file_is_pushed_in_real_time_with_its_codecs_copied(
    api, worker, rtmp_server, files, redis_server
):
    # Given an H.264/AAC file on a web server
    src = files.url_for("timecode.mp4")

    # When the seeds' flat body asks to push it into room 8848 as user pusher_1
    task_id = api.start(pusher_request(src, "pusher_1"))
    api.wait_status(task_id, "pushing")

    # Then a subscriber sees the user's stream with the file's codecs, in real time
    streams = rtmp_server.wait_published(stream_name("pusher_1"))
    kinds = {s["codec_type"]: s for s in streams}
    assert (kinds["video"]["codec_name"], kinds["video"]["width"]) == ("h264", 320)
    assert kinds["audio"]["codec_name"] == "aac"
    frames = room_frames(rtmp_server.url(stream_name("pusher_1")), 175)
    assert len(frames) == 175
    media_s, wall_s = pacing(frames)
    assert wall_s == pytest.approx(media_s, rel=0.2), "pushed faster or slower than real time"
    assert publish_start(frames) == pytest.approx(0.0, abs=1.0)

    # And Describe shows the progress; nothing is kept in Redis (redis: false)
    body = api.describe(task_id)
    assert body["Status"] == "pushing"
    progress = body["Progress"]
    assert progress["Duration"] == pytest.approx(SOURCE_S, abs=0.1)
    assert 3 <= progress["Position"] <= SOURCE_S
    assert progress["Percent"] == pytest.approx(100 * progress["Position"] / SOURCE_S, abs=1)
    assert not stored(redis_server, src, "pusher_1")

    api.act("Stop", task_id)
    done = api.finished(task_id)
    assert "ErrorCode" not in done["Result"], done["Result"]
    wait_gone(rtmp_server, "pusher_1")


def test_stop_then_start_again_resumes_where_it_stopped(
    api, worker, rtmp_server, files, redis_server
):
    # Given a push with redis: true that ran for about 10 s, then was stopped
    src = files.url_for("timecode.mp4")
    body = pusher_request(src, "pusher_2", redis=True)
    first = api.start(body)
    api.wait_position(first, 9.5, timeout=40)
    api.act("Stop", first)
    assert "ErrorCode" not in api.finished(first)["Result"]
    position = float(stored(redis_server, src, "pusher_2")["Position"])
    assert position == pytest.approx(10, abs=1.5)
    wait_gone(rtmp_server, "pusher_2")

    # When the same videoSrc is started again into the same room
    second = api.start(body)
    api.wait_status(second, "pushing")

    # Then the room sees the source from where the first push stopped, not from 0
    frames = room_frames(rtmp_server.url(stream_name("pusher_2")), 25)
    assert publish_start(frames) == pytest.approx(position, abs=1.2)
    api.act("Stop", second)
    api.finished(second)
    wait_gone(rtmp_server, "pusher_2")

    # And with redis: false the same push starts from the beginning
    third = api.start({**body, "redis": False})
    api.wait_status(third, "pushing")
    frames = room_frames(rtmp_server.url(stream_name("pusher_2")), 25)
    assert publish_start(frames) == pytest.approx(0, abs=1.0)
    api.act("Stop", third)
    api.finished(third)


def test_a_killed_worker_push_resumes_from_the_last_stored_second(
    api, farm_process, rtmp_server, files, redis_server
):
    # Given a push (redis: true) running on a worker for about 6 s
    src = files.url_for("timecode.mp4")
    body = pusher_request(src, "pusher_3", redis=True)
    doomed = farm_process("pusher", concurrency=2)
    first = api.start(body)
    api.wait_position(first, 6, timeout=40)

    # When the worker is killed (SIGKILL), its ffmpeg goes with it
    doomed.kill()
    killed = time.monotonic()
    position = float(stored(redis_server, src, "pusher_3")["Position"])
    wait_gone(rtmp_server, "pusher_3")
    assert float(stored(redis_server, src, "pusher_3")["Position"]) == position
    assert position >= 6

    # Then a new Start on another worker resumes from the last stored second
    farm_process("pusher", concurrency=2)
    second = api.start(body)
    api.wait_status(second, "pushing")
    frames = room_frames(rtmp_server.url(stream_name("pusher_3")), 25)
    assert publish_start(frames) == pytest.approx(position, abs=1.2)
    assert time.monotonic() > killed
    api.act("Stop", second)
    api.finished(second)


def test_pause_holds_the_push_and_resume_continues_from_there(api, worker, rtmp_server, files):
    # Given a push of 3 s or more
    task_id = api.start(pusher_request(files.url_for("timecode.mp4"), "pusher_4"))
    api.wait_position(task_id, 3)

    # When it is paused, the room no longer gets the stream and the position holds
    api.act("Pause", task_id)
    api.wait_status(task_id, "paused")
    wait_gone(rtmp_server, "pusher_4")
    held = api.position(task_id)
    time.sleep(1.5)
    assert api.position(task_id) == held

    # Then Resume continues from the same position
    api.act("Resume", task_id)
    rtmp_server.wait_published(stream_name("pusher_4"))
    frames = room_frames(rtmp_server.url(stream_name("pusher_4")), 25)
    assert publish_start(frames) == pytest.approx(held, abs=1.2)
    api.act("Stop", task_id)
    assert "ErrorCode" not in api.finished(task_id)["Result"]


def test_s3_source_is_encoded_seeks_and_a_finished_push_clears_its_progress(
    api, worker, rtmp_server, s3_server, media, redis_server
):
    # Given an MPEG-4/MP3 file in a bucket of the farm's S3 endpoint
    bucket = s3_server.make_bucket("push-sources")
    s3_server.client().upload_file(str(media["mpeg4"]), bucket, "lessons/timecode.mkv")
    src = f"s3://{bucket}/lessons/timecode.mkv"

    # When it is pushed from second 24 with redis: true
    task_id = api.start(pusher_request(src, "pusher_5", redis=True, SeekSecond=24))
    api.wait_status(task_id, "pushing")

    # Then the room gets H.264/AAC, starting at second 24
    streams = rtmp_server.wait_published(stream_name("pusher_5"))
    assert sorted(s["codec_name"] for s in streams) == ["aac", "h264"]
    frames = room_frames(rtmp_server.url(stream_name("pusher_5")), 25)
    assert publish_start(frames) == pytest.approx(24, abs=1.0)
    assert stored(redis_server, src, "pusher_5")["Position"]

    # And when it reaches the end, the task finishes by itself and the progress is cleared
    done = api.finished(task_id, timeout=30)
    assert "ErrorCode" not in done["Result"], done["Result"]
    assert done["Progress"]["Percent"] == 100
    assert not stored(redis_server, src, "pusher_5")


def test_a_media_directory_file_loops(api, worker, rtmp_server, settings, media):
    # Given a 5 s file in the farm's media directory
    settings.media_root.mkdir(parents=True, exist_ok=True)
    (settings.media_root / "short.mp4").write_bytes(media["short"].read_bytes())

    # When it is pushed with Loop 1 (two passes), asked in the action envelope
    envelope = {"Action": "Start", "Data": pusher_request("short.mp4", "pusher_6", Loop=1)}
    task_id = api.start(envelope)

    # Then the subscriber sees the file twice over, and the task ends after the second pass
    rtmp_server.wait_published(stream_name("pusher_6"))
    frames = room_frames(rtmp_server.url(stream_name("pusher_6")), 500, timeout=20)
    shown = [f.source_s for f in frames]
    assert any(b < a - 1 for a, b in itertools.pairwise(shown)), "no second pass"
    done = api.finished(task_id, timeout=20)
    assert "ErrorCode" not in done["Result"], done["Result"]
    assert done["Progress"]["Passes"] == 2


@pytest.mark.parametrize(
    ("where", "detail"),
    [("missing.mp4", "404"), ("media", "no such file in the media directory")],
)
def test_an_unreadable_source_fails_clearly(api, worker, files, where, detail):
    src = files.url_for(where) if where.endswith(".mp4") else "lessons/none.mp4"
    task_id = api.start(pusher_request(src, "pusher_7"))
    result = api.finished(task_id)["Result"]
    assert result["ErrorCode"] == "SourceUnavailable"
    assert src in result["ErrorMessage"] and detail in result["ErrorMessage"]


def test_a_room_that_refuses_the_publish_fails_clearly(api, settings, farm_process, files):
    # Given a room backend whose push URL points at a server that is not there
    closed = f"rtmp://127.0.0.1:{free_port()}/live/{{UserId}}?usersig={{UserSig}}"
    farm_process("pusher", env={"CAPSTAN_ROOM_PUSH_TEMPLATE": closed})

    # When a push goes there
    refused = api.start(pusher_request(files.url_for("timecode.mp4"), "pusher_8"))
    result = api.finished(refused)["Result"]

    # Then it ends with PublishRefused, saying why, with no secret in the message
    assert result["ErrorCode"] == "PublishRefused"
    assert "Connection refused" in result["ErrorMessage"]
    assert USER_SIG not in result["ErrorMessage"] and "usersig=***" in result["ErrorMessage"]


def test_a_second_publisher_for_the_same_user_is_refused(
    api, worker, files, rtmp_server, lavfi_publisher
):
    # Given a user already publishing in the room, a push as that user is refused by the room
    lavfi_publisher(rtmp_server.url(stream_name("pusher_busy")))
    rtmp_server.wait_published(stream_name("pusher_busy"))
    task_id = api.start(pusher_request(files.url_for("timecode.mp4"), "pusher_busy"))
    result = api.finished(task_id)["Result"]
    assert result["ErrorCode"] == "PublishRefused"
    assert "Already publishing" in result["ErrorMessage"]


def test_a_live_source_is_pushed_until_it_is_gone_for_max_idle_time(
    api, worker, rtmp_server, lavfi_publisher, redis_server
):
    # Given a live RTMP stream
    source = lavfi_publisher(rtmp_server.url("live_source"), size="320x240")
    rtmp_server.wait_published("live_source")

    # When it is pushed into the room with MaxIdleTime 3
    body = pusher_request(rtmp_server.url("live_source"), "pusher_9", MaxIdleTime=3, redis=True)
    task_id = api.start(body)

    # Then the room gets it (copied: H.264/AAC), and its end ends the task after 3 s
    streams = rtmp_server.wait_published(stream_name("pusher_9"))
    video = next(s for s in streams if s["codec_type"] == "video")
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 320, 240)
    api.wait_position(task_id, 2)
    source.stop()
    result = api.finished(task_id, timeout=30)["Result"]
    assert result["ErrorCode"] == "SourceLost"
    assert "MaxIdleTime" in result["ErrorMessage"]
    # And a live source has no position to resume from, redis: true or not
    assert not stored(redis_server, rtmp_server.url("live_source"), "pusher_9")


def test_a_task_whose_worker_died_is_taken_over_and_carries_on_from_its_position(
    api, farm_process, rtmp_server, files
):
    # Given a push (redis: false) on a worker whose lease lapses 3 s after it dies
    from workers.common.domain.store import default_store
    from workers.common.runtime.reconciler import reconcile

    short_lease = {"CAPSTAN_LEASE_TTL_S": "3", "CAPSTAN_LEASE_RENEW_S": "1"}
    doomed = farm_process("pusher", concurrency=2, env=short_lease)
    task_id = api.start(pusher_request(files.url_for("timecode.mp4"), "pusher_10"))
    api.wait_position(task_id, 5, timeout=40)

    # When the worker is killed and the reconciler hands the task to another worker
    doomed.kill()
    position = api.position(task_id)
    wait_gone(rtmp_server, "pusher_10")
    farm_process("pusher", concurrency=2, env=short_lease)
    wait_until(lambda: reconcile(default_store()), 20, 0.5, "the task re-enqueued")

    # Then the same task pushes again, from where the dead worker was
    rtmp_server.wait_published(stream_name("pusher_10"))
    frames = room_frames(rtmp_server.url(stream_name("pusher_10")), 25)
    assert publish_start(frames) == pytest.approx(position, abs=1.2)
    assert api.describe(task_id)["Status"] == "pushing"
    api.act("Stop", task_id)
    assert "ErrorCode" not in api.finished(task_id)["Result"]
