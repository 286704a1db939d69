"""panorama, end to end: a client starts recordings of test pages through the dispatcher,
a real panorama worker (Celery subprocess) records them with Xvfb + PulseAudio + Chromium
+ ffmpeg, and the files are checked by what a user would look at: ffprobe's facts, a
frame's colour, a tone's level.
"""

from __future__ import annotations

import signal
import time

import pytest

from tests.support import media
from tests.support.api import Pool, local_file
from tests.support.panorama_helpers import (
    BLUE,
    GREEN,
    PAGES,
    RED,
    RESUME_S,
    InProcessWorker,
    PanoramaApi,
    chromium_pids,
    close_to,
    decrypt_hls,
    is_plain_mpegts,
    kill,
    page_url,
    region_rgb,
)
from tests.support.tools import free_port, require_browser_stack

pytestmark = pytest.mark.integration

POOL = Pool(PanoramaApi)

EXTRA_ENV = {
    "CAPSTAN_SEGMENT_SECONDS": "2",
    "CAPSTAN_CALLBACK_RETRY_WINDOW_S": "4",
    "CAPSTAN_CALLBACK_FIRST_BACKOFF_S": "0.5",
    "CAPSTAN_CALLBACK_TIMEOUT_S": "1",
    "CAPSTAN_MANUAL_START_TIMEOUT_S": "4",
    "CAPSTAN_PAGE_LOAD_TIMEOUT_S": "8",
}


@pytest.fixture
def farm_env():
    require_browser_stack()
    return EXTRA_ENV


@pytest.fixture
def pages(static_server):
    return static_server(PAGES)


def record_for(api: PanoramaApi, task_id: str, seconds: float) -> None:
    """Until the task has recorded this long (as Describe tells it)."""
    api.wait_status(task_id, "recording")
    time.sleep(seconds)


# ---- the main story: Start, Pause, Resume, Stop -> one MP4 ---------------------------


def test_pause_resume_gives_one_mp4_of_the_recorded_time(api, worker, pages, settings):
    # Given a page that shows red and plays 440 Hz, recorded at 640x360
    url = page_url(pages.url, bg="ff0000", tone=440)
    task_id = api.start(RecordURL=url, Width=640, Height=360)
    assert api.describe(task_id)["Status"] in ("normal", "recording")

    # When it records ~4 s, pauses for 5 s, records ~4 s more and stops
    started = api.wait_status(task_id, "recording")
    assert started["StartTime"] > 0
    first = time.monotonic()
    time.sleep(4)
    api.act("Pause", task_id)
    first = time.monotonic() - first
    api.wait_status(task_id, "paused")
    time.sleep(5)
    api.act("Resume", task_id)
    api.wait_status(task_id, "recording")
    second = time.monotonic()
    time.sleep(4)
    api.act("Stop", task_id)
    recorded = first + time.monotonic() - second  # what the client saw as recording
    done = api.finished(task_id)

    # Then Describe shows the times and one video
    assert "ErrorCode" not in done["Result"], done
    assert done["StopTime"] >= done["StartTime"]
    assert done["FinishTime"] >= done["StopTime"]
    (video,) = done["Result"]["Videos"]
    assert video["Filename"] == f"{done['StopTime']}.mp4"
    path = local_file(settings, video["FileURL"])
    assert path.stat().st_size == video["FileSize"]

    # and the file is one H.264/AAC MP4 of exactly 640x360, moov first, ~8 s long
    facts = media.probe(path)
    assert media.codecs(path) == {"video": "h264", "audio": "aac"}
    (picture,) = [s for s in facts["streams"] if s["codec_type"] == "video"]
    assert (picture["width"], picture["height"]) == (640, 360)
    assert media.moov_before_mdat(path)
    # no pause in it; the client sees "recording" at once, the capture needs RESUME_S
    low, high = recorded - RESUME_S - 0.5, recorded + 1.0
    assert low <= facts["duration"] <= high, (facts["duration"], recorded)
    assert abs(facts["duration"] - video["FileDuration"]) < 0.5

    # and it shows the page (red) before and after the pause, and the tone is audible
    assert close_to(media.frame_rgb(path, 1.5), RED)
    assert close_to(media.frame_rgb(path, facts["duration"] - 1.0), RED)
    assert media.tone_level(path, 440) > -40
    assert media.tone_level(path, 440) - media.tone_level(path, 1500) > 20


# ---- HLS, AES-128, Output.Cos on S3, callback with a retry ----------------------------

KEY_HEX = "21834cca41778803e1afba3f41e70c90"


def test_encrypted_hls_goes_to_the_bucket_and_the_callback(
    api, worker, pages, settings, s3_server, callback_receiver, tmp_path
):
    # Given a bucket for the output (and the farm's own for segments, StorageType cos)
    s3_server.make_bucket("capstan")
    s3_server.make_bucket("webrecord")
    callback_receiver.fail_first(1)  # the first callback attempt gets a 500
    auth_url = "https://keys.example.com/m3u8-encrypt/enc.key"

    # When a blue page is recorded as encrypted HLS into Output.Cos for ~5 s
    task_id = api.start(
        RecordURL=page_url(pages.url, bg="0000ff", tone=660),
        Width=480,
        Height=272,
        CallbackURL=callback_receiver.url,
        StorageType="cos",
        Output={
            "Cos": {
                "Domain": "cdn.example.com",
                "Bucket": "webrecord",
                "Region": s3_server.region,
                "TargetDir": "11234/",
                "TargetName": "record-file-name.mp4",
            },
            "Video": {"Muxer": "hls", "EncryptKey": KEY_HEX, "AuthUrl": auth_url},
        },
    )
    record_for(api, task_id, 5)
    api.act("Stop", task_id)
    done = api.finished(task_id)

    # Then the playlist and its segments are in the bucket under TargetDir
    assert "ErrorCode" not in done["Result"], done
    (video,) = done["Result"]["Videos"]
    assert video["Filename"] == "record-file-name.m3u8"
    assert video["FileURL"] == "https://cdn.example.com/11234/record-file-name.m3u8"
    s3 = s3_server.client()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="webrecord")["Contents"]]
    assert "11234/record-file-name.m3u8" in keys
    parts = sorted(k for k in keys if k.endswith(".ts"))
    assert parts, keys
    for key in ["11234/record-file-name.m3u8", *parts]:
        s3.download_file("webrecord", key, str(tmp_path / key.split("/")[-1]))
    playlist = tmp_path / "record-file-name.m3u8"

    # and the playlist names AuthUrl as its AES-128 key; the segments are encrypted
    assert f'#EXT-X-KEY:METHOD=AES-128,URI="{auth_url}"' in playlist.read_text()
    assert not is_plain_mpegts(tmp_path / parts[0].split("/")[-1])
    assert KEY_HEX not in playlist.read_text()

    # and with the key it plays back: the blue page and its tone, ~5 s, 480x272
    played = decrypt_hls(playlist, KEY_HEX, tmp_path / "played.mp4")
    facts = media.probe(played)
    assert 3.5 <= facts["duration"] <= 7.5, facts["duration"]
    (picture,) = [s for s in facts["streams"] if s["codec_type"] == "video"]
    assert (picture["width"], picture["height"]) == (480, 272)
    assert close_to(media.frame_rgb(played, 2.0), BLUE)
    assert media.tone_level(played, 660) > -40

    # and the callback was retried once and then got the Describe body
    calls = callback_receiver.wait_for(2)
    assert [c.status for c in calls[:2]] == [500, 200]
    body = calls[-1].json
    assert body["TaskID"] == task_id and body["Status"] == "finished"
    assert body["Result"]["Videos"][0]["FileURL"] == video["FileURL"]
    assert KEY_HEX not in calls[-1].raw.decode()


# ---- ManualStart: window.startRecord / window.stopRecord -----------------------------


def test_manual_start_records_from_start_record_until_stop_record(api, worker, pages, settings):
    # Given a page that is white until it calls window.startRecord() (after 2 s), then
    # green, and calls window.stopRecord() 4 s later
    url = page_url(pages.url, pre="ffffff", bg="00ff00", start=2000, stop=4000)
    task_id = api.start(RecordURL=url, Width=320, Height=240, ManualStart=True)

    # When nobody stops it, it records once the page asks, and ends when the page says
    done = api.finished(task_id)

    # Then the file holds what the page showed after startRecord (green), up to stopRecord
    assert "ErrorCode" not in done["Result"], done
    assert done["StartTime"] - done["CreateTime"] >= 2
    path = local_file(settings, done["Result"]["Videos"][0]["FileURL"])
    duration = media.probe(path)["duration"]
    assert 1.0 <= duration <= 5.0, duration
    assert close_to(media.frame_rgb(path, 0.0), GREEN)
    assert close_to(media.frame_rgb(path, duration - 0.3), GREEN)


def test_manual_start_that_never_comes_ends_with_a_clear_error(api, pages, settings):
    # Given a page that never calls window.startRecord() (the wait is 4 s here)
    task_id = api.start(RecordURL=page_url(pages.url), ManualStart=True, Width=320, Height=240)

    # When a worker runs it
    InProcessWorker(task_id).join()

    # Then it ends with ManualStartTimeout, having recorded nothing
    done = api.describe(task_id)
    assert done["Status"] == "finished"
    assert done["Result"]["ErrorCode"] == "ManualStartTimeout"
    assert "window.startRecord()" in done["Result"]["ErrorMessage"]
    assert not done["Result"].get("Videos")


# ---- Refresh, no scrollbars, no browser chrome ---------------------------------------


def test_refresh_reloads_the_page_while_recording(api, pages, settings):
    # Given a page larger than the window, red on its first load and blue once reloaded
    url = page_url(pages.url, bg="ff0000", then="0000ff", tall=1)
    task_id = api.start(RecordURL=url, Width=400, Height=300)
    worker = InProcessWorker(task_id)

    # When it records 3 s, is refreshed, and records 3 s more
    record_for(api, task_id, 3)
    api.act("Refresh", task_id)
    time.sleep(3)
    api.act("Stop", task_id)
    worker.join()
    done = api.describe(task_id)

    # Then one file shows red, then blue, ~6 s long, 400x300
    assert "ErrorCode" not in done["Result"], done
    path = local_file(settings, done["Result"]["Videos"][0]["FileURL"])
    facts = media.probe(path)
    assert 5.0 <= facts["duration"] <= 7.5, facts["duration"]
    (picture,) = [s for s in facts["streams"] if s["codec_type"] == "video"]
    assert (picture["width"], picture["height"]) == (400, 300)
    assert close_to(media.frame_rgb(path, 1.0), RED)
    assert close_to(media.frame_rgb(path, facts["duration"] - 0.5), BLUE)

    # and the page fills the picture: no scrollbar at the right or bottom edge, no
    # browser toolbar at the top (all would be grey or white, not the page's red)
    for x, y, w, h in ((386, 40, 14, 220), (40, 286, 320, 14), (200, 0, 200, 30)):
        assert close_to(region_rgb(path, 1.0, x, y, w, h), RED), (x, y, w, h)


# ---- limits and failures -------------------------------------------------------------


def test_max_duration_ends_it_and_a_dead_callback_is_reported(
    api, pages, settings, callback_receiver
):
    # Given a receiver that never answers and a 4 s limit
    callback_receiver.never_answer(30)
    task_id = api.start(
        RecordURL=page_url(pages.url, bg="0000ff"),
        Width=320,
        Height=240,
        MaxDurationLimit=4,
        CallbackURL=callback_receiver.url,
    )

    # When nobody stops it
    InProcessWorker(task_id).join()
    done = api.describe(task_id)

    # Then it stopped by itself after ~4 s, and the file is there despite the callback
    assert done["Status"] == "finished"
    assert done["Result"]["ErrorCode"] == "CallbackFailed"
    assert "Callback failed even all tries" in done["Result"]["ErrorMessage"]
    path = local_file(settings, done["Result"]["Videos"][0]["FileURL"])
    # (the limit is checked between polls, and ffmpeg then closes its segment)
    assert 3.5 <= media.probe(path)["duration"] <= 5.5
    assert len(callback_receiver.received) >= 2


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("missing.html", "HTTP 404"),
        ("http://no-such-host.invalid/page.html", "does not resolve"),
        ("http://127.0.0.1:{closed}/page.html", "ERR_CONNECTION_REFUSED"),
    ],
)
def test_a_page_that_does_not_load_is_page_load_failed(api, pages, settings, where, message):
    url = where.format(closed=free_port()) if where.startswith("http") else pages.url_for(where)
    task_id = api.start(RecordURL=url, Width=320, Height=240)
    InProcessWorker(task_id).join()
    done = api.describe(task_id)
    assert done["Status"] == "finished"
    assert done["Result"]["ErrorCode"] == "PageLoadFailed", done
    assert message in done["Result"]["ErrorMessage"]
    assert "StartTime" not in done


def test_a_browser_crash_keeps_what_was_recorded(api, pages, settings):
    # Given a recording of a green page
    task_id = api.start(RecordURL=page_url(pages.url, bg="00ff00"), Width=320, Height=240)
    worker = InProcessWorker(task_id)
    record_for(api, task_id, 5)

    # When its Chromium is killed
    pids = chromium_pids(task_id)
    assert pids, "no Chromium found for the task"
    for pid in pids:
        kill(pid, signal.SIGKILL)
    worker.join()
    done = api.describe(task_id)

    # Then the task ends with BrowserCrashed and delivers what it had
    assert done["Status"] == "finished"
    assert done["Result"]["ErrorCode"] == "BrowserCrashed", done
    path = local_file(settings, done["Result"]["Videos"][0]["FileURL"])
    assert media.probe(path)["duration"] >= 3.0
    assert close_to(media.frame_rgb(path, 1.0), GREEN)


# ---- isolation -----------------------------------------------------------------------


def test_two_recordings_side_by_side_each_capture_their_own_page(api, worker, pages, settings):
    # Given two pages at once: red with 440 Hz, blue with 1200 Hz
    red = api.start(RecordURL=page_url(pages.url, bg="ff0000", tone=440), Width=320, Height=240)
    blue = api.start(RecordURL=page_url(pages.url, bg="0000ff", tone=1200), Width=320, Height=240)

    # When both record ~5 s on the same worker host
    api.wait_status(red, "recording", timeout=60)
    api.wait_status(blue, "recording", timeout=60)
    time.sleep(5)
    api.act("Stop", red)
    api.act("Stop", blue)

    # Then each file shows only its page and plays only its tone
    for task_id, colour, own, other in ((red, RED, 440, 1200), (blue, BLUE, 1200, 440)):
        done = api.finished(task_id)
        assert "ErrorCode" not in done["Result"], done
        path = local_file(settings, done["Result"]["Videos"][0]["FileURL"])
        assert close_to(media.frame_rgb(path, 1.0), colour)
        assert media.tone_level(path, own) > -40
        assert media.tone_level(path, own) - media.tone_level(path, other) > 20
