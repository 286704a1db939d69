"""The recorder keeps the sender's sync (issue 11, item 3): it only remuxes, so a user whose
picture flashes white exactly when their beep starts (tests.support.publisher's flash-and-beep
pattern, offset 0 by construction) is recorded with each beep on its flash, within 20 ms, in
Mode 02; in Mode 01 (video only) each flash comes on the sender's schedule. Also across a
drop-and-return (the worker takeover is in tests/chaos/test_worker_crash.py).

tests.support.avsync reads the file as a player does: flash onsets at their presentation
times, beep onsets at the audio's start plus the samples before them.
"""

from __future__ import annotations

import itertools
import subprocess
import time
from pathlib import Path

import pytest

from tests.support import avsync, media
from tests.support.api import Pool, local_file
from tests.support.publisher import FLASH_EVERY_S, GOP_S, lavfi_publish_argv
from tests.support.recorder_helpers import (
    RECORDER_TEST_ENV,
    SDK_APP_ID,
    RecorderApi,
    push_url,
    seeds_request,
)

pytestmark = pytest.mark.integration

POOL = Pool(RecorderApi, concurrency=1)

SYNC_MS = 20.0  # the bound on beep minus flash, the sender's being 0
HOLE_MS = 3.0  # a jump in the audio's timestamps a player would play as a shift
# A visit that ends by itself (the publisher's -t) ends the same way every run: what the
# recorder does at a return is then the same every run. 6.74 s: the sender's last video
# frame and its last audio frame end 18.8 ms apart, which the next run must not turn into
# a hole in the audio after the return (workers/recorder/builders.run_offset_s).
VISIT_S = 6.74
AWAY_S = 5.0
# A returning user is joined this late at most: the recorder retries every
# RECORDER_RETRY_MAX_S, then ffmpeg connects (the stream plays from what arrives then).
JOIN_S = 1.5


@pytest.fixture(scope="module")
def sent_visit_s(tmp_path_factory) -> float:
    """How long one visit is as the user sends it (6.78 s here: the -t cut ends on the
    last whole video frame and AAC frame): a recording is never longer than that."""
    path = tmp_path_factory.mktemp("sender") / "visit.flv"
    argv = [arg for arg in lavfi_publish_argv(str(path), VISIT_S, flashbeep=True) if arg != "-re"]
    subprocess.run(argv, check=True, capture_output=True, timeout=60)
    return media.probe(path)["duration"]


@pytest.fixture
def farm_env(rtmp_server):
    return RECORDER_TEST_ENV


def assert_in_sync(sync: avsync.Sync, events: int) -> None:
    """Every flash has its beep, at most SYNC_MS from it, and the audio plays as stamped."""
    assert len(sync.pairs) == len(sync.flashes) >= events, sync.summary()
    worst = max(sync.offsets_ms, key=abs)
    assert abs(worst) <= SYNC_MS, f"beep minus flash {worst:.1f} ms: {sync.summary()}"
    assert all(abs(hole) <= HOLE_MS for hole in sync.audio_holes_ms), sync.audio_holes_ms


def record_visits(api, settings, lavfi_publisher, user: str, mode: str, visits: int) -> Path:
    """A recording of a user who comes ``visits`` times for VISIT_S, away AWAY_S between."""
    url = push_url(settings, 43474, user)
    task_id = api.start(seeds_request(user, Mode=mode))
    for number in range(visits):
        if number:
            time.sleep(AWAY_S)
        publisher = lavfi_publisher(url, seconds=VISIT_S, flashbeep=True)
        api.wait_present(task_id)
        publisher.wait(timeout=VISIT_S + 10)
        api.wait_present(task_id, present=False)
    api.act("Stop", task_id)
    (entry,) = api.finished(task_id)["Result"]["Files"]
    assert entry["Status"] == 1, entry
    return local_file(settings, entry["RecordFile"])


def test_the_flash_and_beep_publisher_is_in_sync_by_construction(tmp_path):
    # Given the publisher's own stream, written to a file as fast as ffmpeg can
    path = tmp_path / "sender.flv"
    argv = [arg for arg in lavfi_publish_argv(str(path), 9, flashbeep=True) if arg != "-re"]
    subprocess.run(argv, check=True, capture_output=True, timeout=60)

    # Then each of its flashes has its beep, at the same instant, every FLASH_EVERY_S
    sync = avsync.measure(path)
    assert len(sync.pairs) == len(sync.flashes) == len(sync.beeps) == 4, sync.summary()
    assert all(abs(offset) <= 1.0 for offset in sync.offsets_ms), sync.summary()
    assert sync.audio_holes_ms == []
    steps = [b - a for a, b in itertools.pairwise(sync.flashes)]
    assert steps == pytest.approx([FLASH_EVERY_S] * 3, abs=0.001)


def test_mode_02_keeps_the_senders_sync(api, worker, settings, rtmp_server, lavfi_publisher):
    # Given a user publishing the flash-and-beep pattern, recorded in Mode 02 for ~20 s
    user = "sync02"
    lavfi_publisher(push_url(settings, 43474, user), flashbeep=True)
    rtmp_server.wait_published(f"{SDK_APP_ID}_43474_{user}")
    task_id = api.start(seeds_request(user, Mode="02"))
    present = api.wait_status(task_id, "recording", timeout=30)["_seen"]
    time.sleep(20)
    api.act("Stop", task_id)
    recorded = time.monotonic() - present
    (entry,) = api.finished(task_id)["Result"]["Files"]
    path = local_file(settings, entry["RecordFile"])

    # Then every beep sounds on its flash, as the user sent them, for the time recorded
    assert_in_sync(avsync.measure(path), events=8)
    assert media.probe(path)["duration"] == pytest.approx(recorded, abs=1.0)


def test_mode_01_keeps_the_senders_schedule_across_a_drop_and_return(
    api, worker, settings, rtmp_server, lavfi_publisher, sent_visit_s
):
    # Given a user recorded in Mode 01 (video only) who leaves for AWAY_S and comes back
    path = record_visits(api, settings, lavfi_publisher, "sync01", "01", 2)

    # Then the file is the picture alone, its flashes every FLASH_EVERY_S of the sender's
    # clock within each visit (only the return, the absent time cut out, breaks the beat)
    info = media.probe(path)
    assert [s["codec_type"] for s in info["streams"]] == ["video"]
    flashes = avsync.flash_onsets(path)
    steps = [b - a for a, b in itertools.pairwise(flashes)]
    off_beat = [step for step in steps if abs(step - FLASH_EVERY_S) * 1000 > SYNC_MS]
    assert len(flashes) >= 4 and len(off_beat) <= 1, steps
    # Both visits and not the time away; copied video starts at a keyframe, and a server
    # without a GOP cache sends the next one: each visit loses up to GOP_S + JOIN_S.
    assert 2 * (VISIT_S - GOP_S - JOIN_S) <= info["duration"] <= 2 * sent_visit_s


def test_mode_02_keeps_the_senders_sync_across_drops_and_returns(
    api, worker, settings, rtmp_server, lavfi_publisher, sent_visit_s
):
    # Given a user recorded in Mode 02 who drops out twice for AWAY_S, coming back each time
    path = record_visits(api, settings, lavfi_publisher, "sync02r", "02", 3)

    # Then one file without the absent time, every beep still on its flash
    assert 3 * (VISIT_S - JOIN_S) <= media.probe(path)["duration"] <= 3 * sent_visit_s
    assert_in_sync(avsync.measure(path), events=5)
