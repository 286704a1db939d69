"""Several outputs from one recording (Video.Muxer ["mp4", "hls"]): the same closed
segments packaged once per format by stream copy, stored, and listed one Result.Videos item
each; checked with ffprobe and a frame's colour, as a viewer of either file would."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support import media
from tests.support.panorama_helpers import RED, close_to, decrypt_hls, is_plain_mpegts
from tests.support.tools import require
from workers.common.delivery.storage import LocalStorage
from workers.common.domain.specs.panorama import VideoConfig
from workers.common.media import ffmpeg
from workers.common.runtime.finalize import upload, video_entry
from workers.common.runtime.session import Destination
from workers.panorama import output

SECONDS = 6
STOP_TIME = 1700000000
KEY_HEX = "21834cca41778803e1afba3f41e70c90"
AUTH_URL = "https://keys.example.com/enc.key"


@pytest.fixture(scope="module")
def segments(tmp_path_factory) -> list[Path]:
    """6 s of a red picture and a 440 Hz tone, closed as 2-s timeline segments the way a
    capture run writes them (the production segment builder)."""
    ffmpeg_cmd = require("ffmpeg")
    run = ffmpeg.SegmentRun(tmp_path_factory.mktemp("segments"), "e0001r0001")
    argv = [ffmpeg_cmd, "-hide_banner", "-nostdin", "-loglevel", "error",
            "-f", "lavfi", "-i", "color=c=red:size=320x180:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(SECONDS), "-c:v", "libx264", "-preset", "veryfast", "-g", "50",
            "-pix_fmt", "yuv420p", "-c:a", "aac",
            *ffmpeg.segment_output(run, 2, timeline_offset_s=0.0)]  # fmt: skip
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    return sorted(run.directory.glob("*.ts"))


def package(segments: list[Path], out: Path, video: VideoConfig) -> list[Path]:
    out.mkdir()
    return output.package_all(
        segments,
        out,
        video,
        target_name="class.mp4",
        stop_time=STOP_TIME,
        segment_seconds=2,
        ffmpeg_cmd=require("ffmpeg"),
    )


def test_mp4_and_hls_from_the_same_segments_play_alike(segments, tmp_path):
    # Given the closed segments of a 6-s recording of a red page
    # When they are packaged for Muxer ["mp4", "hls"] with TargetName "class.mp4"
    files = package(segments, tmp_path / "out", VideoConfig(Muxer=["mp4", "hls"]))

    # Then the MP4 comes first, then the playlist and its parts, each with its extension
    assert [f.name for f in files[:2]] == ["class.mp4", "class.m3u8"]
    assert files[2:] and all(f.name.startswith("class_") and f.suffix == ".ts" for f in files[2:])
    mp4, playlist = files[:2]

    # and both play: H.264/AAC, the same length, the red page in each
    assert media.codecs(mp4) == media.codecs(playlist) == {"video": "h264", "audio": "aac"}
    spans = media.stream_spans(mp4)
    assert abs(spans["video"] - SECONDS) < 0.1, spans
    media.assert_same_spans(mp4, playlist)
    assert close_to(media.frame_rgb(mp4, 3.0), RED)
    assert close_to(media.frame_rgb(playlist, 3.0), RED)
    assert media.tone_level(mp4, 440) > -40 and media.tone_level(playlist, 440) > -40


def test_stored_outputs_are_one_videos_item_each(segments, tmp_path):
    # Given MP4 + HLS packaged from the same segments
    files = package(segments, tmp_path / "out", VideoConfig(Muxer=["mp4", "hls"]))
    storage = LocalStorage(tmp_path / "store", "http://farm")

    # When they are stored
    stored = upload(files, Destination(storage, "t1"), SECONDS, require("ffprobe"))

    # Then every file is stored, and Videos lists the MP4 and the playlist (for its parts)
    assert sorted(storage.keys("t1/")) == sorted(f"t1/{f.name}" for f in files)
    videos = [video_entry(f) for f in stored]
    assert [v["Filename"] for v in videos] == ["class.mp4", "class.m3u8"]
    assert [v["FileURL"] for v in videos] == [
        "http://farm/files/t1/class.mp4",
        "http://farm/files/t1/class.m3u8",
    ]
    assert videos[0]["FileSize"] == files[0].stat().st_size
    assert videos[1]["FileSize"] == sum(f.stat().st_size for f in files[1:])
    assert abs(videos[0]["FileDuration"] - videos[1]["FileDuration"]) < 0.2, videos


def test_the_key_encrypts_the_hls_only_and_both_last_as_long(segments, tmp_path):
    # Given Muxer ["hls", "mp4"] with an AES-128 key
    video = VideoConfig(Muxer=["hls", "mp4"], EncryptKey=KEY_HEX, AuthUrl=AUTH_URL)

    # When the segments are packaged
    files = package(segments, tmp_path / "out", video)

    # Then the playlist comes first (the order asked), names AuthUrl, its parts are encrypted
    playlist, parts, mp4 = files[0], files[1:-1], files[-1]
    assert (playlist.name, mp4.name) == ("class.m3u8", "class.mp4")
    assert f'#EXT-X-KEY:METHOD=AES-128,URI="{AUTH_URL}"' in playlist.read_text()
    assert parts and not any(is_plain_mpegts(p) for p in parts)
    assert not list(tmp_path.glob("out/.hls.key*"))  # the key is not left on disk

    # and the MP4 is plain, and lasts what the decrypted HLS lasts
    played = decrypt_hls(playlist, KEY_HEX, tmp_path / "played.mp4")
    assert media.codecs(mp4) == {"video": "h264", "audio": "aac"}
    media.assert_same_spans(mp4, played)
    assert close_to(media.frame_rgb(played, 3.0), RED)
