"""Real-world pages, end to end: a page in Chinese, Japanese and Korean with emoji and a
WebGL canvas, a page playing H.264/AAC, VP9/Opus and HLS videos, and a RecordURL that is
an .mp4 file. A real panorama worker records each for 6 s (MaxDurationLimit); the files
are checked by what a viewer notices: glyphs that are not boxes, colour emoji, the WebGL
drawing, nothing over the page, video that moves and its sound.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import clips, media
from tests.support.api import Pool, local_file
from tests.support.frames import Box, ink, movement, pixels, shape_difference, share
from tests.support.panorama_helpers import PAGES, PanoramaApi
from tests.support.tools import missing, require, require_browser_stack

pytestmark = pytest.mark.integration

POOL = Pool(PanoramaApi)

SECONDS = 6
WHITE, MAGENTA, YELLOW = (255, 255, 255), (255, 0, 255), (255, 255, 0)
APPLE_RED, TREE_GREEN = (220, 30, 30), (40, 140, 40)
SCRIPTS = {0: "Chinese (中 语)", 1: "Japanese (あ カ)", 2: "Korean (한 글)"}


@pytest.fixture
def farm_env():
    require_browser_stack()
    return {}


@pytest.fixture
def site(static_server, tmp_path):
    """The test pages and the media they play, served from localhost."""
    root = tmp_path / "site"
    shutil.copytree(PAGES, root)
    return static_server(root)


def record(api: PanoramaApi, settings, url: str, width: int, height: int) -> Path:
    """Record url for SECONDS at width x height; the MP4 the farm delivered."""
    task_id = api.start(RecordURL=url, Width=width, Height=height, MaxDurationLimit=SECONDS)
    done = api.finished(task_id)
    assert "ErrorCode" not in done["Result"], done
    path = local_file(settings, done["Result"]["Videos"][0]["FileURL"])
    assert media.probe(path)["duration"] >= SECONDS - 1.5
    return path


def movements(path: Path, box: Box) -> list[float]:
    """How much the box changes over each second of the recording, from 1.5 s to its end:
    a still picture measures below 1, testsrc2's sweeping band and clock 5 to 30."""
    times = [1.5 + second for second in range(SECONDS - 2)]
    frames = [pixels(path, t, box) for t in times]
    return [movement(a, b) for a, b in itertools.pairwise(frames)]


def fonts_for(lang: str) -> bool:
    argv = ["fc-list", f":lang={lang}"]
    return bool(subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip())


# ---- text in CJK scripts, emoji, WebGL -----------------------------------------------


def test_cjk_text_emoji_and_webgl_render(api, worker, site, settings):
    # Given fonts for Chinese, Japanese, Korean and emoji (deploy/fonts-packages.txt)
    require("fc-list")
    for lang in ("zh-cn", "ja", "ko", "und-zsye"):
        if not fonts_for(lang):
            missing(f"no font for {lang} (deploy/fonts-packages.txt: make install)")

    # When the rendering page (tests/pages/rendering.html) is recorded at 800x400
    path = record(api, settings, site.url_for("rendering.html"), 800, 400)

    for t in (2.0, SECONDS - 1.0):
        # Then each script's two characters are two different shapes, not the same box
        cells = {(col, row): pixels(path, t, Box(200 * col, 40 + 120 * row, 200, 120))
                 for col in range(4) for row in range(2)}  # fmt: skip
        for col, script in SCRIPTS.items():
            first, second = ink(cells[col, 0]), ink(cells[col, 1])
            assert first.mean() > 0.02 and second.mean() > 0.02, f"{script}: no text at {t}s"
            difference = shape_difference(first, second)
            assert difference > 0.3, f"{script} at {t}s: the same shape twice (boxes?)"

        # and the emoji are in colour: a red apple, a green tree
        assert share(cells[3, 0], APPLE_RED) > 0.1, f"no red apple at {t}s"
        assert share(cells[3, 1], TREE_GREEN) > 0.1, f"no green tree at {t}s"

        # and the WebGL canvas shows its magenta clear colour and its yellow triangle
        assert share(pixels(path, t, Box(0, 284, 100, 30)), MAGENTA) > 0.9, f"no WebGL at {t}s"
        assert share(pixels(path, t, Box(300, 364, 200, 32)), YELLOW) > 0.9, f"no triangle {t}s"

        # and nothing covers the page: the white band at its top stays white (no bubble)
        assert share(pixels(path, t, Box(0, 0, 800, 40)), WHITE, tol=30) > 0.98, f"at {t}s"


# ---- video: H.264/AAC, VP9/Opus, HLS ---------------------------------------------------

# Tones two octaves apart: a missing one measures below -45 dB next to the others' -27.
TILES = {"H.264/AAC MP4": ("clip.mp4", 300), "VP9/Opus WebM": ("clip.webm", 1200),
         "HLS (H.264/AAC)": ("clip.m3u8", 4800)}  # fmt: skip


def test_video_pages_are_recorded_moving_with_their_sound(api, worker, site, settings):
    # Given an MP4, a WebM and an HLS video, each with its own tone
    root = Path(site.directory)
    clips.mp4(root / "clip.mp4", 300)
    clips.webm(root / "clip.webm", 1200)
    clips.hls(root / "clip.m3u8", 4800)

    # When a page playing the three side by side (320x180 tiles) is recorded
    query = "&".join(f"src={name}" for name, _ in TILES.values())
    path = record(api, settings, site.url_for(f"videos.html?{query}"), 960, 180)

    # Then each tile shows moving video, and each video's tone is in the sound
    for index, (kind, (_, tone)) in enumerate(TILES.items()):
        tile = Box(320 * index, 0, 320, 180)
        assert pixels(path, SECONDS - 1.5, tile).mean() > 40, f"{kind}: a black tile"
        moved = movements(path, tile)
        assert min(moved) > 3, f"{kind}: the picture stands still at times: {moved}"
        assert media.tone_level(path, tone) > -35, f"{kind}: its {tone} Hz tone is not heard"


def test_a_record_url_that_is_an_mp4_file_plays_with_its_sound(api, worker, site, settings):
    # Given an H.264/AAC MP4 file with a 440 Hz tone (the seeds' sample RecordURL is one)
    clips.mp4(Path(site.directory) / "direct.mp4", 440, size="640x360")

    # When the file itself is recorded at 640x360
    path = record(api, settings, site.url_for("direct.mp4"), 640, 360)

    # Then the picture moves all through and the tone is heard
    moved = movements(path, Box(0, 0, 640, 360))
    assert min(moved) > 3, f"the picture stands still at times: {moved}"
    assert media.tone_level(path, 440) > -35
    assert media.tone_level(path, 440) - media.tone_level(path, 1500) > 20
