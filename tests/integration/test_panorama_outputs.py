"""Several outputs from one capture (Video.Muxer as a list), end to end: a client asks the
dispatcher for MP4 and HLS at once, a real panorama worker records a test page once, and
both files are checked by what a viewer of either would notice: they play, they show the
page and its tone, and they last the same time.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support import media
from tests.support.api import Pool, local_file
from tests.support.openapi import assert_conforms
from tests.support.panorama_helpers import (
    BLUE,
    PAGES,
    RED,
    PanoramaApi,
    close_to,
    decrypt_hls,
    is_plain_mpegts,
    page_url,
)
from tests.support.tools import require_browser_stack

pytestmark = pytest.mark.integration

POOL = Pool(PanoramaApi)

EXTRA_ENV = {
    "CAPSTAN_SEGMENT_SECONDS": "2",
    "CAPSTAN_CALLBACK_RETRY_WINDOW_S": "4",
    "CAPSTAN_CALLBACK_TIMEOUT_S": "2",
    "CAPSTAN_PAGE_LOAD_TIMEOUT_S": "8",
}
KEY_HEX = "21834cca41778803e1afba3f41e70c90"


@pytest.fixture
def farm_env():
    require_browser_stack()
    return EXTRA_ENV


@pytest.fixture
def pages(static_server):
    return static_server(PAGES)


def assert_recorded_length(done: dict, mp4: Path) -> float:
    """The MP4 lasts what Describe counted as recorded (at least 2 s of the ~4-5 s between
    recording and Stop, the capture's warm-up aside); the length of its picture."""
    seconds, recorded = media.probe(mp4)["duration"], done["Progress"]["RecordedSeconds"]
    assert seconds >= 2.0 and abs(seconds - recorded) < 0.2, (seconds, recorded)
    return media.stream_spans(mp4)["video"]


def record(api: PanoramaApi, task_id: str, seconds: float) -> dict:
    """Record this long, Stop, and the finished Describe."""
    api.wait_status(task_id, "recording")
    time.sleep(seconds)
    api.act("Stop", task_id)
    return api.finished(task_id, timeout=90)


def test_mp4_and_hls_from_one_task_both_play_with_the_same_duration(
    api, worker, pages, settings, callback_receiver
):
    # Given a red page playing 440 Hz, recorded once for MP4 and HLS, named "class.mp4"
    task_id = api.start(
        RecordURL=page_url(pages.url, bg="ff0000", tone=440),
        Width=480,
        Height=272,
        CallbackURL=callback_receiver.url,
        Video={"Muxer": ["mp4", "hls"]},
        Output={"Cos": {"TargetName": "class.mp4"}},
    )

    # When it records ~5 s and is stopped
    done = record(api, task_id, 5)

    # Then Describe lists two videos, the MP4 then the playlist, each with its extension
    assert "ErrorCode" not in done["Result"], done
    assert_conforms(api.describe(task_id), "Task")  # the OpenAPI answer, Videos and all
    mp4_item, hls_item = done["Result"]["Videos"]
    assert (mp4_item["Filename"], hls_item["Filename"]) == ("class.mp4", "class.m3u8")
    mp4, playlist = (
        local_file(settings, mp4_item["FileURL"]),
        local_file(settings, hls_item["FileURL"]),
    )
    parts = sorted(playlist.parent.glob("class_*.ts"))
    assert parts
    assert mp4.stat().st_size == mp4_item["FileSize"]
    assert hls_item["FileSize"] == playlist.stat().st_size + sum(p.stat().st_size for p in parts)

    # and both play: H.264/AAC at 480x272, the same length (one recording, packaged twice)
    for path in (mp4, playlist):
        assert media.codecs(path) == {"video": "h264", "audio": "aac"}, path
        (picture,) = [s for s in media.probe(path)["streams"] if s["codec_type"] == "video"]
        assert (picture["width"], picture["height"]) == (480, 272)
    picture_s = assert_recorded_length(done, mp4)
    media.assert_same_spans(mp4, playlist)
    # and as players count it: the HLS by its playlist (its picture), the MP4 by its longer
    # stream; Describe gives both the recorded length (the MP4's, probed)
    mp4_s, hls_s = media.probe(mp4)["duration"], media.probe(playlist)["duration"]
    assert abs(hls_s - picture_s) < 0.05, (hls_s, picture_s)
    assert abs(mp4_item["FileDuration"] - mp4_s) < 0.01, (mp4_item, mp4_s)
    assert abs(hls_item["FileDuration"] - mp4_s) < 0.2, (hls_item, mp4_s)

    # and both show the red page and sound its tone, at the same moment
    middle = picture_s / 2
    assert close_to(media.frame_rgb(mp4, middle), RED)
    assert close_to(media.frame_rgb(playlist, middle), RED)
    assert media.tone_level(mp4, 440) > -40
    assert media.tone_level(playlist, 440) > -40

    # and the callback carries both
    body = callback_receiver.wait_for(1)[-1].json
    assert [v["FileURL"] for v in body["Result"]["Videos"]] == [
        mp4_item["FileURL"],
        hls_item["FileURL"],
    ]


def test_encrypted_hls_and_a_plain_mp4_from_one_task(api, worker, pages, settings, tmp_path):
    # Given a blue page recorded for encrypted HLS first, and MP4
    auth_url = "https://keys.example.com/enc.key"
    task_id = api.start(
        RecordURL=page_url(pages.url, bg="0000ff", tone=660),
        Width=320,
        Height=240,
        Video={"Muxer": ["hls", "mp4"], "EncryptKey": KEY_HEX, "AuthUrl": auth_url},
    )

    # When it records ~4 s and is stopped
    done = record(api, task_id, 4)

    # Then the playlist is the first video (the order asked), the MP4 the second
    assert "ErrorCode" not in done["Result"], done
    hls_item, mp4_item = done["Result"]["Videos"]
    assert hls_item["Filename"].endswith(".m3u8") and mp4_item["Filename"].endswith(".mp4")
    playlist, mp4 = (
        local_file(settings, hls_item["FileURL"]),
        local_file(settings, mp4_item["FileURL"]),
    )

    # and only the HLS is encrypted: its playlist names AuthUrl, its parts are not plain
    text = playlist.read_text()
    assert f'#EXT-X-KEY:METHOD=AES-128,URI="{auth_url}"' in text and KEY_HEX not in text
    parts = sorted(playlist.parent.glob(playlist.stem + "_*.ts"))
    assert parts and not any(is_plain_mpegts(p) for p in parts)
    assert not list(playlist.parent.glob(".hls.key*"))

    # and with the key the HLS plays as long as the MP4, the blue page in both
    played = decrypt_hls(playlist, KEY_HEX, tmp_path / "played.mp4")
    middle = assert_recorded_length(done, mp4) / 2
    media.assert_same_spans(mp4, played)
    assert close_to(media.frame_rgb(mp4, middle), BLUE)
    assert close_to(media.frame_rgb(played, middle), BLUE)
    assert media.tone_level(played, 660) > -40
