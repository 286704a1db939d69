"""panorama warm slots, end to end: a real panorama worker (Celery subprocess) keeps one
browser stack ready (CAPSTAN_PANORAMA_WARM_SLOTS=1); a Start of the default size takes it.

What a user would check: the recording is right (ffprobe, a frame's colour, the tone), a
task never sees what the page stored in an earlier task (cookies, localStorage), and a slot
whose Chromium died is replaced without the next Start noticing. No timings are asserted
(Start -> first frame with and without slots is measured by bench/panorama.py).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.support import media
from tests.support.api import Pool, local_file
from tests.support.farm import FarmProcess
from tests.support.panorama_helpers import (
    BLUE,
    GREEN,
    PAGES,
    RED,
    PanoramaApi,
    close_to,
    kill,
    page_url,
)
from tests.support.tools import require_browser_stack

pytestmark = pytest.mark.integration

POOL = Pool(PanoramaApi)

EXTRA_ENV = {
    "CAPSTAN_PANORAMA_WARM_SLOTS": "1",
    "CAPSTAN_SEGMENT_SECONDS": "2",
    "CAPSTAN_PAGE_LOAD_TIMEOUT_S": "15",
}
SLOT_READY = "a warm slot is ready"
STARTED = "--- start "  # what ManagedProcess writes in its log at each start
SLOT_BUILD_S = 90.0  # a stack starts in seconds; this machine may be busy

# Green when the page finds nothing stored by an earlier visit, blue when it finds its
# cookie or its localStorage item; then it stores both (the cookie for a day).
STATE_PAGE = """<!doctype html>
<html><head><style>html, body { margin: 0; height: 100%; }</style></head>
<body><script>
  const seen = document.cookie.includes("capstan_visit=")
    || localStorage.getItem("capstan_visit") !== null;
  document.body.style.background = seen ? "#0000ff" : "#00ff00";
  document.cookie = "capstan_visit=1; max-age=86400; path=/";
  localStorage.setItem("capstan_visit", "1");
</script></body></html>
"""


@pytest.fixture
def farm_env():
    require_browser_stack()
    return EXTRA_ENV


@pytest.fixture
def pages(static_server):
    return static_server(PAGES)


@pytest.fixture
def state_page(static_server, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "state.html").write_text(STATE_PAGE)
    return f"{static_server(site).url.rstrip('/')}/state.html"


def wait_slots_built(worker: FarmProcess, count: int) -> None:
    """Until the worker's log says ``count`` slots were made ready since it started (a
    log file may hold an earlier worker's lines: from its last start marker on)."""
    deadline = time.monotonic() + SLOT_BUILD_S
    while time.monotonic() < deadline:
        text = worker.log.read_text(errors="replace")
        if text[text.rfind(STARTED) :].count(SLOT_READY) >= count:
            return
        time.sleep(0.2)
    pytest.fail(f"the worker did not make {count} warm slot(s) ready: {worker.tail()}")


def slot_browsers(work_dir: Path) -> list[int]:
    """The Chromium browser processes of the warm slots (their profile is under slots/)."""
    flag = f"--user-data-dir={work_dir / 'slots'}/".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # Chromium rewrites its command line into one space-separated string: words.
            words = (entry / "cmdline").read_bytes().replace(b"\0", b" ").split()
        except OSError:
            continue
        if any(w.startswith(flag) for w in words) and not any(
            w.startswith(b"--type=") for w in words
        ):
            found.append(int(entry.name))
    return found


def record(api: PanoramaApi, url: str, seconds: float, refresh_at: float | None = None) -> dict:
    """Start (the default size), record, Stop: Describe's body once finished."""
    task_id = api.start(RecordURL=url)
    api.wait_status(task_id, "recording")
    if refresh_at is not None:
        time.sleep(refresh_at)
        api.act("Refresh", task_id)
        seconds -= refresh_at
    time.sleep(seconds)
    api.act("Stop", task_id)
    done = api.finished(task_id)
    assert "ErrorCode" not in done["Result"], done
    return done


def the_video(settings, done: dict) -> Path:
    (video,) = done["Result"]["Videos"]
    return local_file(settings, video["FileURL"])


def wait_warm(api: PanoramaApi, count: int, timeout: float = 15.0) -> dict:
    """Until the capacity route counts ``count`` ready warm slots (adverts renew every ~2 s)."""
    deadline = time.monotonic() + timeout
    while True:
        panorama = api.client.get("/v1/ops/capacity").get_json()["pools"]["panorama"]
        if panorama.get("warm") == count:
            return panorama
        if time.monotonic() > deadline:
            pytest.fail(f"the capacity route never counted {count} warm slot(s): {panorama}")
        time.sleep(0.2)


# ---- what an operator sees ---------------------------------------------------------------


def test_the_capacity_route_counts_the_ready_warm_slot(api, worker):
    # Given a worker with one warm slot ready
    wait_slots_built(worker, 1)

    # Then the capacity route shows it with the worker's task slots
    panorama = wait_warm(api, 1)
    assert panorama["workers"] == 1
    assert panorama["slots"] >= 1


# ---- a slot is used once ----------------------------------------------------------------


def test_a_task_never_sees_what_the_page_stored_in_an_earlier_task(
    api, worker, state_page, settings
):
    # Given a worker with one warm slot
    wait_slots_built(worker, 1)

    # When a page that stores a cookie and a localStorage item is recorded, then reloaded
    first = record(api, state_page, 8, refresh_at=3)
    # and, once a fresh slot is ready, recorded again by a second task
    wait_slots_built(worker, 2)
    second = record(api, state_page, 4)

    # Then both tasks took a warm slot
    assert first["Progress"]["WarmStart"] == 1
    assert second["Progress"]["WarmStart"] == 1
    # and the first found nothing stored (green) until its reload found its own (blue):
    # the page tells a stored visit from a fresh one
    one = the_video(settings, first)
    assert close_to(media.frame_rgb(one, 1.0), GREEN)
    assert close_to(media.frame_rgb(one, media.probe(one)["duration"] - 1.0), BLUE)
    # and the second task's page found nothing of the first's: a fresh profile
    two = the_video(settings, second)
    assert close_to(media.frame_rgb(two, 1.0), GREEN)
    assert close_to(media.frame_rgb(two, media.probe(two)["duration"] - 0.5), GREEN)


# ---- a slot whose Chromium died is replaced ---------------------------------------------


def test_a_killed_slot_is_replaced_and_the_next_start_records(api, worker, pages, settings):
    # Given a worker with one warm slot, whose Chromium is killed while it waits
    wait_slots_built(worker, 1)
    (browser,) = slot_browsers(settings.work_dir)
    kill(browser, signal.SIGKILL)

    # When the worker has made a fresh slot ready
    wait_slots_built(worker, 2)
    assert browser not in slot_browsers(settings.work_dir)
    # and a red page playing 440 Hz is recorded for ~5 s at the default size
    started = time.monotonic()
    done = record(api, page_url(pages.url, bg="ff0000", tone=440), 5)
    recorded = time.monotonic() - started

    # Then the Start took the fresh slot
    assert done["Progress"]["WarmStart"] == 1
    # and the file is an H.264/AAC MP4 of 1280x720, about as long as it recorded
    path = the_video(settings, done)
    facts = media.probe(path)
    assert media.codecs(path) == {"video": "h264", "audio": "aac"}
    (picture,) = [s for s in facts["streams"] if s["codec_type"] == "video"]
    assert (picture["width"], picture["height"]) == (1280, 720)
    assert 3.0 <= facts["duration"] <= recorded + 1.0, (facts["duration"], recorded)
    # showing the page (red) and playing its tone
    assert close_to(media.frame_rgb(path, 1.0), RED)
    assert close_to(media.frame_rgb(path, facts["duration"] - 0.5), RED)
    assert media.tone_level(path, 440) - media.tone_level(path, 1500) > 20


def test_a_start_of_another_size_builds_its_own_stack(api, worker, pages, settings):
    # Given a worker with one warm slot (of the default size)
    wait_slots_built(worker, 1)
    (slot,) = slot_browsers(settings.work_dir)

    # When a 320x240 recording is made
    task_id = api.start(RecordURL=page_url(pages.url, bg="0000ff"), Width=320, Height=240)
    api.wait_status(task_id, "recording")
    time.sleep(3)
    api.act("Stop", task_id)
    done = api.finished(task_id)

    # Then it built its own stack (cold) and left the slot waiting
    assert "ErrorCode" not in done["Result"], done
    assert done["Progress"]["WarmStart"] == 0
    assert slot_browsers(settings.work_dir) == [slot]
    path = the_video(settings, done)
    (picture,) = [s for s in media.probe(path)["streams"] if s["codec_type"] == "video"]
    assert (picture["width"], picture["height"]) == (320, 240)
    assert close_to(media.frame_rgb(path, 1.0), BLUE)


def test_a_taken_slot_outlives_the_keeper_that_built_it(settings):
    # Given a pool that built a slot, and a task that took it
    from workers.panorama import slots

    require_browser_stack()
    pool = slots.SlotPool(1, lambda: slots.build_stack(settings)).start()
    try:
        deadline = time.monotonic() + SLOT_BUILD_S
        while pool.ready < 1:
            assert time.monotonic() < deadline, "no warm slot was built"
            time.sleep(0.1)
        stack = pool.take(slots.DEFAULT_FRAME)
        assert stack is not None
    finally:
        # When the pool stops (the bench's stop_pool, a draining worker): its keeper ends
        pool.close()
    try:
        # Then the task's stack goes on: its display, sound server and browser all there
        time.sleep(2)
        assert slots.alive(stack), stack.failure()
    finally:
        stack.close()
