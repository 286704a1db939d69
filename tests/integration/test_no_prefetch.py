"""A busy worker leaves the next Start in the queue for a worker with a free slot.

Celery acks a Capstan task when it starts (a 10-hour recording is never redelivered), and an
acked message no longer counts against the prefetch limit: a worker with every slot busy
then reserved one more task, which waited behind recordings that may last hours while
another worker sat idle. Real Redis, real recorder workers; the recordings wait for users
nobody publishes, so they hold their slots without any media.
"""

from __future__ import annotations

import time

import pytest

from tests.support.api import Pool
from tests.support.recorder_helpers import RecorderApi, seeds_request

pytestmark = pytest.mark.integration

POOL = Pool(RecorderApi)


@pytest.fixture
def farm_env(rtmp_server):
    return {}


def test_a_start_waits_in_the_queue_for_a_free_slot_not_behind_a_busy_worker(api, farm_process):
    # Given one recorder worker of one slot, busy with a recording
    farm_process("recorder", concurrency=1, node="recorder-busy")
    first = api.start(seeds_request("first"))
    api.wait_status(first, "recording", timeout=30)

    # When a second recording starts, and the busy worker has had time to take it
    second = api.start(seeds_request("second"))
    time.sleep(3)
    assert api.describe(second)["Status"] == "normal"

    # Then a worker that joins later records it: it was still in the queue
    farm_process("recorder", concurrency=1, node="recorder-idle")
    api.wait_status(second, "recording", timeout=30)
    assert api.describe(first)["Status"] == "recording"
