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
from pathlib import Path

import pytest

from tests.support import avsync, media
from tests.support.panorama_helpers import PAGES, RESUME_S, PanoramaApi, local_file
from tests.support.tools import require_browser_stack
from workers.common.ffmpeg import SegmentRun
from workers.common.runtime import run_task
from workers.panorama import builders
from workers.panorama.builders import Frame
from workers.panorama.session import PanoramaSession
from workers.panorama.stack import BrowserStack

pytestmark = pytest.mark.integration

EARLY_MS, LATE_MS = 45.0, 100.0  # the bounds around the bare capture's offset
SIZE = Frame(640, 360)
SETTLED_S = 3.0  # from here on every event must be in bounds


@pytest.fixture(scope="module")
def flash_pages(tmp_path_factory):
    """The test pages on a static server of this module's own (module-scoped)."""
    from tests.support.http import StaticServer

    server = StaticServer(PAGES)
    yield server
    server.close()


def flash_url(pages) -> str:
    return f"{pages.url.rstrip('/')}/flashbeep.html"


@pytest.fixture(scope="module")
def bare_offset_ms(flash_pages, tmp_path_factory) -> float:
    """The machine's own offset: one ffmpeg grabbing the page straight into one MP4."""
    require_browser_stack()
    home = tmp_path_factory.mktemp("bare")
    stack = BrowserStack(SIZE, "/usr/bin/chromium", home / "browser", ["127.0.0.0/8"]).start()
    try:
        assert stack.browser is not None and stack.display and stack.audio
        stack.browser.open(flash_url(flash_pages), 20)
        out = home / "bare.mp4"
        argv = bare_capture(stack.display.name, stack.audio.server, out)
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
        until = time.monotonic() + 12
        while time.monotonic() < until:
            stack.browser.pump(100)
        proc.communicate(b"q", timeout=30)
    finally:
        stack.close()
    sync = avsync.measure(out)
    assert len(sync.pairs) >= 4, sync.summary()
    return sync.median_ms


def bare_capture(display: str, pulse_server: str, out: Path) -> list[str]:
    """The farm's inputs and encoder, but one process into one MP4: what 'ffmpeg alone'
    gives (both capture clocks kept; no segments, runs or timeline)."""
    argv = builders.capture(
        SIZE,
        display,
        pulse_server,
        run=SegmentRun(out.parent, "bare"),  # its segment muxer is dropped below
        segment_seconds=4,
        progress=out.with_suffix(".progress"),
        wallclock_s=time.time(),
    )
    cut = argv.index("-f", argv.index("-c:a"))  # drop the segment muxer
    return ["ffmpeg", *argv[:cut], "-y", str(out)]


def assert_in_sync(sync: avsync.Sync, bare_ms: float, *, at_least: int) -> None:
    assert len(sync.pairs) >= at_least, sync.summary()
    low, high = bare_ms - EARLY_MS, bare_ms + LATE_MS
    # The sound's clock settles in its first seconds (aresample pulls it onto its arrival
    # stamps at up to 2 %): on a loaded machine the first event can be ~100 ms early.
    late_or_early = [
        (round(p.flash_s, 2), round(p.offset_ms)) for p in sync.pairs
        if p.flash_s >= SETTLED_S and not low <= p.offset_ms <= high
    ]  # fmt: skip
    assert not late_or_early, f"out of [{low:.0f}, {high:.0f}] ms: {late_or_early}"
    # A player that plays the samples one after the other hears them at these times too.
    assert not [h for h in sync.audio_holes_ms if abs(h) > 5], sync.audio_holes_ms


@pytest.fixture
def api(settings) -> PanoramaApi:
    from dispatcher.app import create_app

    return PanoramaApi(create_app().test_client())


@pytest.fixture
def settings(monkeypatch, capstan_env_vars, capstan_env):
    return capstan_env


def run_in_thread(task_id: str):
    import threading

    outcome: list[str] = []
    thread = threading.Thread(
        target=lambda: outcome.append(run_task(task_id, PanoramaSession)), daemon=True
    )
    thread.start()
    return thread, outcome


def finish(api: PanoramaApi, task_id: str, thread) -> dict:
    api.act("Stop", task_id)
    thread.join(120)
    done = api.describe(task_id)
    assert done["Status"] == "finished" and "ErrorCode" not in done["Result"], done
    return done


def test_a_recording_is_in_sync_from_the_first_second_to_the_last(
    api, settings, flash_pages, bare_offset_ms
):
    # Given the flash-and-beep page recorded for 16 s
    task_id = api.start(RecordURL=flash_url(flash_pages), Width=SIZE.width, Height=SIZE.height)
    thread, _ = run_in_thread(task_id)
    api.wait_status(task_id, "recording")
    started = time.monotonic()
    time.sleep(16)
    done = finish(api, task_id, thread)
    recorded = time.monotonic() - started

    # Then every beep starts with its flash, as in the bare capture, from the first event
    path = local_file(settings, done["Result"]["Videos"][0]["FileURL"])
    sync = avsync.measure(path)
    assert_in_sync(sync, bare_offset_ms, at_least=6)
    assert sync.pairs[0].flash_s < 4.5, "the first events are in the file (one every 2 s)"
    # and the file is as long as the time recorded (Stop reaches the worker within ~1 s)
    duration = media.probe(path)["duration"]
    assert recorded - 1.0 <= duration <= recorded + 1.5, (duration, recorded)


def test_pause_resume_and_refresh_keep_the_sound_on_the_picture_in_hls(
    api, settings, flash_pages, bare_offset_ms, tmp_path
):
    # Given the page recorded to HLS: 7 s, paused 4 s, 7 s, refreshed, 7 s, paused 3 s, 7 s
    task_id = api.start(
        RecordURL=flash_url(flash_pages),
        Width=SIZE.width,
        Height=SIZE.height,
        Video={"Muxer": "hls"},
    )
    thread, _ = run_in_thread(task_id)
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
    done = finish(api, task_id, thread)

    # Then the playlist plays in sync at every point: across both pauses and the reload
    playlist = local_file(settings, done["Result"]["Videos"][0]["FileURL"])
    assert playlist.suffix == ".m3u8"
    whole = tmp_path / "played.mp4"
    argv = ["ffmpeg", "-v", "error", "-i", str(playlist), "-c", "copy", "-y", str(whole)]
    subprocess.run(argv, check=True, timeout=120)
    sync = avsync.measure(whole)
    assert_in_sync(sync, bare_offset_ms, at_least=10)
    # and no paused time is in it (each Resume records again RESUME_S after it is sent)
    duration = media.probe(whole)["duration"]
    assert sum(runs) - 2 * RESUME_S <= duration <= sum(runs) + 1.5, (duration, runs)
    # and every part has its events (none was lost at a boundary)
    gaps = [b.flash_s - a.flash_s for a, b in itertools.pairwise(sync.pairs)]
    assert statistics.median(gaps) == pytest.approx(2.0, abs=0.1)
