"""The media helpers, checked on a file made with a known colour and a known tone."""

import subprocess

import pytest

from tests.support.media import codecs, frame_rgb, moov_before_mdat, probe, tone_level
from tests.support.tools import require

COLOUR = (0x20, 0x50, 0xC0)


def _make(path, faststart):
    require("ffmpeg")
    argv = ["ffmpeg", "-v", "error", "-y",
            "-f", "lavfi", "-i", "color=c=0x2050C0:size=320x240:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
            "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"]  # fmt: skip
    argv += ["-movflags", "+faststart"] if faststart else []
    subprocess.run([*argv, str(path)], check=True, timeout=60)
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return _make(tmp_path_factory.mktemp("media") / "clip.mp4", faststart=True)


def test_probe_reports_duration_format_and_streams(clip):
    facts = probe(clip)

    assert facts["duration"] == pytest.approx(2.0, abs=0.15)
    assert "mp4" in facts["format_name"]
    video = next(s for s in facts["streams"] if s["codec_type"] == "video")
    audio = next(s for s in facts["streams"] if s["codec_type"] == "audio")
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", 320, 240)
    assert (audio["codec_name"], audio["sample_rate"]) == ("aac", 48000)
    assert codecs(clip) == {"video": "h264", "audio": "aac"}


def test_the_tone_is_loud_at_its_frequency_and_quiet_elsewhere(clip):
    at_tone = tone_level(clip, 1000)
    elsewhere = tone_level(clip, 3000)

    assert at_tone > -30
    assert elsewhere < at_tone - 20


def test_a_loud_tone_does_not_leak_into_a_band_an_octave_and_a_half_away(tmp_path):
    # what the side-by-side test relies on: a 1200 Hz page is told from a 440 Hz one
    tone = tmp_path / "tone.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=1200:duration=2",
                    "-af", "volume=0.9", str(tone)], check=True)  # fmt: skip

    assert tone_level(tone, 1200) - tone_level(tone, 440) > 45


def test_a_frame_has_the_colour_it_was_made_with(clip):
    rgb = frame_rgb(clip, 1.0)

    assert rgb == pytest.approx(COLOUR, abs=8)


def test_faststart_puts_moov_before_mdat(clip, tmp_path):
    plain = _make(tmp_path / "plain.mp4", faststart=False)

    assert moov_before_mdat(clip)
    assert not moov_before_mdat(plain)


def test_probe_of_a_broken_file_says_why(tmp_path):
    require("ffprobe")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")

    with pytest.raises(AssertionError, match="ffprobe failed"):
        probe(broken)
