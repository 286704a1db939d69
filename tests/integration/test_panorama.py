"""panorama, end to end: a client starts recordings of test pages through the dispatcher,
a real panorama worker (Celery subprocess) records them with Xvfb + PulseAudio + Chromium
+ ffmpeg, and the files are checked by what a user would look at: ffprobe's facts, a
frame's colour, a tone's level.
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.support import media
from tests.support.panorama_helpers import (
    BLUE,
    GREEN,
    PAGES,
    RED,
    PanoramaApi,
    close_to,
    local_file,
    page_url,
)
from tests.support.tools import require
from workers.common.runtime import run_task
from workers.panorama.session import PanoramaSession

pytestmark = pytest.mark.integration

EXTRA_ENV = {
    "CAPSTAN_SEGMENT_SECONDS": "2",
    "CAPSTAN_CALLBACK_RETRY_WINDOW_S": "4",
    "CAPSTAN_CALLBACK_FIRST_BACKOFF_S": "0.5",
    "CAPSTAN_CALLBACK_TIMEOUT_S": "1",
    "CAPSTAN_MANUAL_START_TIMEOUT_S": "4",
    "CAPSTAN_PAGE_LOAD_TIMEOUT_S": "8",
}


@pytest.fixture
def tools() -> None:
    for tool in ("Xvfb", "pulseaudio", "chromium", "ffmpeg", "ffprobe", "python:playwright"):
        require(tool)


@pytest.fixture
def panorama_env(monkeypatch, capstan_env_vars, tools):
    capstan_env_vars.update(EXTRA_ENV)
    for key, value in EXTRA_ENV.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def settings(panorama_env, capstan_env):
    return capstan_env


@pytest.fixture
def pages(static_server):
    return static_server(PAGES)


@pytest.fixture
def api(settings) -> PanoramaApi:
    from dispatcher.app import create_app

    return PanoramaApi(create_app().test_client())


@pytest.fixture
def worker(settings, farm_process):
    """A panorama pool worker, as `make run` starts it (two tasks at a time)."""
    return farm_process("panorama", concurrency=2)


class InProcessWorker:
    """run_task in a thread: for cases that need no Celery (the message waits unread)."""

    def __init__(self, task_id: str) -> None:
        self.outcome: list[str] = []
        self.thread = threading.Thread(
            target=lambda: self.outcome.append(run_task(task_id, PanoramaSession)), daemon=True
        )
        self.thread.start()

    def join(self, timeout: float = 90) -> str:
        self.thread.join(timeout)
        assert self.outcome, "the task did not end"
        return self.outcome[0]


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
    time.sleep(4)
    api.act("Pause", task_id)
    api.wait_status(task_id, "paused")
    time.sleep(5)
    api.act("Resume", task_id)
    api.wait_status(task_id, "recording")
    time.sleep(4)
    api.act("Stop", task_id)
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
    assert 6.5 <= facts["duration"] <= 10.5, facts["duration"]  # 8 s recorded, pause left out
    assert abs(facts["duration"] - video["FileDuration"]) < 0.5

    # and it shows the page (red) before and after the pause, and the tone is audible
    assert close_to(media.frame_rgb(path, 1.5), RED)
    assert close_to(media.frame_rgb(path, facts["duration"] - 1.0), RED)
    assert media.tone_level(path, 440) > -40
    assert media.tone_level(path, 440) - media.tone_level(path, 1500) > 20
