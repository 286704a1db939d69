"""panorama: the sound happens when the picture shows it, at every point of the file.

A page (tests/pages/flashbeep.html) turns white and starts a 1 kHz beep in the same
animation frame every 2 s. For every event in the output, the beep's onset minus the
flash's onset must stay within 45 ms early and 100 ms late of what a bare capture of
the same page on this machine gives: ffmpeg alone, the same display, sink and browser,
straight into one MP4 (no segments, no runs, no farm). Checked after the first 3 s,
across Pause/Resume and Refresh, in MP4 and in HLS.
"""

from __future__ import annotations

import itertools
import statistics
import subprocess
import time

import pytest

from tests.support import avsync, media
from tests.support.api import Pool, local_file
from tests.support.bare_capture import SIZE, assert_in_sync, flash_url
from tests.support.panorama_helpers import RESUME_S, InProcessWorker, PanoramaApi
from tests.support.tools import require_browser_stack
from workers.panorama import builders
from workers.panorama.stack import BrowserStack

pytestmark = pytest.mark.integration

POOL = Pool(PanoramaApi)


def finish(api: PanoramaApi, task_id: str, worker: InProcessWorker) -> dict:
    api.act("Stop", task_id)
    worker.join(120)
    done = api.describe(task_id)
    assert done["Status"] == "finished" and "ErrorCode" not in done["Result"], done
    return done


def test_a_recording_is_in_sync_from_the_first_second_to_the_last(
    api, settings, flash_pages, bare_yardstick
):
    # Given the flash-and-beep page recorded for 16 s
    task_id = api.start(RecordURL=flash_url(flash_pages.url), Width=SIZE.width, Height=SIZE.height)
    worker = InProcessWorker(task_id)
    api.wait_status(task_id, "recording")
    started = time.monotonic()
    time.sleep(16)
    recorded = time.monotonic() - started  # until the Stop is sent (not its finalize)
    done = finish(api, task_id, worker)

    # Then every beep starts with its flash, as in the bare capture, from the first event
    path = local_file(settings, done["Result"]["Videos"][0]["FileURL"])
    sync = avsync.measure(path)
    assert_in_sync(sync, bare_yardstick, at_least=6)
    assert sync.pairs[0].flash_s < 4.5, "the first events are in the file (one every 2 s)"
    # and the file is as long as the time recorded (Stop reaches the worker within ~1 s)
    duration = media.probe(path)["duration"]
    assert recorded - 1.0 <= duration <= recorded + 1.5, (duration, recorded)


def test_pause_resume_and_refresh_keep_the_sound_on_the_picture_in_hls(
    api, settings, flash_pages, bare_yardstick, tmp_path
):
    # Given the page recorded to HLS: 7 s, paused 4 s, 7 s, refreshed, 7 s, paused 3 s, 7 s
    task_id = api.start(
        RecordURL=flash_url(flash_pages.url),
        Width=SIZE.width,
        Height=SIZE.height,
        Video={"Muxer": "hls"},
    )
    worker = InProcessWorker(task_id)
    api.wait_status(task_id, "recording")
    runs = []
    for step in ("Pause", "Refresh", "Pause", "Stop"):
        began = time.monotonic()
        time.sleep(7)
        runs.append(time.monotonic() - began)
        if step == "Stop":
            break
        api.act(step, task_id)
        if step == "Pause":
            api.wait_status(task_id, "paused")
            time.sleep(4)
            api.act("Resume", task_id)
            api.wait_status(task_id, "recording")
    done = finish(api, task_id, worker)

    # Then the playlist plays in sync at every point: across both pauses and the reload
    playlist = local_file(settings, done["Result"]["Videos"][0]["FileURL"])
    assert playlist.suffix == ".m3u8"
    whole = tmp_path / "played.mp4"
    argv = ["ffmpeg", "-v", "error", "-i", str(playlist), "-c", "copy", "-y", str(whole)]
    subprocess.run(argv, check=True, timeout=120)
    sync = avsync.measure(whole)
    assert_in_sync(sync, bare_yardstick, at_least=10)
    # and no paused time is in it (each Resume records again RESUME_S after it is sent)
    duration = media.probe(whole)["duration"]
    assert sum(runs) - 2 * RESUME_S <= duration <= sum(runs) + 1.5, (duration, runs)
    # and every part has its events (none was lost at a boundary)
    gaps = [b.flash_s - a.flash_s for a, b in itertools.pairwise(sync.pairs)]
    assert statistics.median(gaps) == pytest.approx(2.0, abs=0.1)


def test_the_capture_ticks_with_the_renderers_frame_clock(flash_pages, tmp_path):
    """The capture's frame clock is locked to the interval Chromium draws at with Energy
    Saver on (builders.GRAB_RATE: every other one of viz's 16666 us BeginFrames). Should a
    Chromium release pace its frames otherwise, the picture would again slide past the
    grab's ticks and step a frame against its sound every few minutes, or Chromium would
    draw twice a tick and cost twice as much: this says so."""
    require_browser_stack()
    stack = BrowserStack(SIZE, "/usr/bin/chromium", tmp_path / "browser", ["127.0.0.0/8"])
    stack.start()
    try:
        assert stack.browser is not None
        stack.browser.open(f"{flash_pages.url}/frameclock.html", 20)
        until = time.monotonic() + 12
        while time.monotonic() < until:
            stack.browser.pump(200)
        # the page's own figures (no public Browser API reads a page's variables), asked
        # on the browser's Playwright thread, as every call to it must be
        browser = stack.browser
        clock = browser._thread.call(lambda: browser._page.evaluate("frameClock()"))
    finally:
        stack.close()
    assert clock["frames"] >= 12 * 25, clock  # it drew (near) every frame
    # 33332 us, not 33333.33: a fit over 350 frames resolves far below the 1.3 us between
    assert clock["intervalUs"] == pytest.approx(builders.RENDERER_FRAME_US, abs=0.4), clock
