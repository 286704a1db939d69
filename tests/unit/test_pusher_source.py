"""videoSrc: what kind of source it is, where a relative path may point, the URL policy,
and what ffprobe's answer means for the push."""

from __future__ import annotations

import pytest

from config.settings import Settings
from workers.common.domain.errors import UserFault
from workers.pusher.source import facts_of, source_of


@pytest.fixture
def settings(tmp_path):
    return Settings(data_dir=tmp_path, url_allowlist=["127.0.0.0/8"])


@pytest.mark.parametrize(
    ("video_src", "kind"),
    [
        ("https://cdn.example.com/a.mp4", "http"),
        ("HTTP://cdn.example.com/a.mp4", "http"),
        ("s3://lessons/2024/a.mp4", "s3"),
        ("rtmp://live.example.com/live/s", "live"),
        ("rtmps://live.example.com/live/s", "live"),
        ("lessons/a.mp4", "file"),
    ],
)
def test_the_kind_of_source(settings, video_src, kind):
    source = source_of(video_src, settings)
    assert source.kind == kind and source.live == (kind == "live")


def test_a_relative_path_is_a_file_in_the_media_directory(settings):
    media = settings.data_dir / "media" / "lessons"
    media.mkdir(parents=True)
    (media / "a.mp4").write_bytes(b"x")
    assert source_of("lessons/a.mp4", settings).url() == str((media / "a.mp4").resolve())
    with pytest.raises(UserFault, match="no such file in the media directory") as missing:
        source_of("lessons/b.mp4", settings).url()
    assert missing.value.code == "SourceUnavailable"


def test_a_link_out_of_the_media_directory_is_refused(settings, tmp_path):
    media = settings.data_dir / "media"
    media.mkdir(parents=True)
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"x")
    (media / "escape.mp4").symlink_to(secret)
    with pytest.raises(UserFault, match="no such file"):
        source_of("escape.mp4", settings).url()


def test_the_url_policy_applies_to_http_and_rtmp_sources(settings):
    assert source_of("http://127.0.0.1:8000/a.mp4", settings).url().startswith("http://127.")
    for src in ("http://10.1.2.3/a.mp4", "rtmp://169.254.169.254/live/x"):
        with pytest.raises(UserFault, match="address the farm does not reach") as refused:
            source_of(src, settings).url()
        assert refused.value.code == "SourceUnavailable"


def test_hide_shows_the_video_src_instead_of_a_signed_link(settings):
    source = source_of("s3://b/k.mp4", settings)
    signed = "http://s3/b/k.mp4?X-Amz-Signature=abc"
    assert (
        source.hide(f"{signed}: Server returned 403", signed) == "s3://b/k.mp4: Server returned 403"
    )


def probe_answer(*streams, duration="30.000"):
    return {"format": {"duration": duration}, "streams": list(streams)}


def test_facts_take_the_first_video_and_audio_and_skip_cover_art(settings):
    source = source_of("a.mp3", settings)
    cover = {"codec_type": "video", "codec_name": "mjpeg", "disposition": {"attached_pic": 1}}
    facts = facts_of(probe_answer(cover, {"codec_type": "audio", "codec_name": "mp3"}), source)
    assert (facts.plan.video, facts.plan.audio, facts.duration_s) == (None, "mp3", 30.0)
    assert not facts.plan.copies_all


def test_a_live_source_has_no_duration_and_nothing_to_push_is_an_error(settings):
    live = source_of("rtmp://127.0.0.1/live/x", settings)
    video = {"codec_type": "video", "codec_name": "h264"}
    facts = facts_of(probe_answer(video, {"codec_type": "audio", "codec_name": "aac"}), live)
    assert facts.duration_s is None and facts.plan.copies_all
    with pytest.raises(UserFault, match="neither video nor audio"):
        facts_of(probe_answer({"codec_type": "data", "codec_name": "bin_data"}), live)
