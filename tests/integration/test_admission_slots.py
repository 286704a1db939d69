"""Admission counts slots: a Start is admitted while the pool's live workers have a slot for it.

Against the real Redis and real recorder workers (Celery processes as `make run` starts them):
each advertises its concurrency while it consumes; Starts beyond the live slots are refused
with LimitExceeded saying so; a worker killed outright stops counting once its advert expires,
and a draining one withdraws at once. The recordings wait for users nobody publishes, so they
hold their slots without any media.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support.api import Pool
from tests.support.openapi import assert_conforms
from tests.support.recorder_helpers import RecorderApi, seeds_request

pytestmark = pytest.mark.integration

POOL = Pool(RecorderApi)
SLOTS_PER_WORKER = 2
ADVERT_TTL_S = 6.0


@pytest.fixture
def farm_env(rtmp_server):
    return {
        "CAPSTAN_ADMISSION_COUNTS_SLOTS": "true",
        "CAPSTAN_SLOT_ADVERT_TTL_S": str(ADVERT_TTL_S),
    }


def recorders(farm_process, *nodes: str) -> list[Any]:
    return [farm_process("recorder", concurrency=SLOTS_PER_WORKER, node=node) for node in nodes]


def capacity(api: RecorderApi) -> dict[str, Any]:
    response = api.client.get("/v1/ops/capacity")
    assert response.status_code == 200
    assert_conforms(response.get_json(), "Capacity")
    pools: dict[str, Any] = response.get_json()["pools"]
    return pools["recorder"]


def wait_capacity(api: RecorderApi, timeout: float, **expected: int) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        now = capacity(api)
        if all(now[key] == value for key, value in expected.items()):
            return now
        if time.monotonic() > deadline:
            raise AssertionError(f"capacity never reached {expected}: {now}")
        time.sleep(0.2)


def refused(api: RecorderApi, user: str) -> tuple[int, str, str]:
    status, answer = api.post(seeds_request(user))
    return status, answer.get("ErrorCode", ""), answer.get("ErrorMessage", "")


def test_no_worker_means_no_slot_and_the_error_says_so(api):
    # Given a farm with no recorder worker running
    # When a client starts a recording
    status, code, message = refused(api, "alone")

    # Then it is refused at once, saying there is no live slot
    assert (status, code) == (429, "LimitExceeded")
    assert "recorder has 0 live slots" in message
    assert capacity(api)["workers"] == 0


def test_starts_fill_the_live_slots_and_a_killed_worker_stops_counting(api, farm_process):
    # Given two recorder workers of two slots each
    _, doomed = recorders(farm_process, "recorder-a", "recorder-b")
    before = wait_capacity(api, 10, workers=2, slots=2 * SLOTS_PER_WORKER)
    assert (before["active"], before["free"], before["admissible"]) == (0, 4, 4)
    assert "warm" not in before  # recorders keep no warm slots

    # When four recordings start, then a fifth
    tasks = [api.start(seeds_request(f"user{n}")) for n in range(4)]
    status, code, message = refused(api, "user4")

    # Then the four are admitted and the fifth is refused, naming the slots it counted
    assert (status, code) == (429, "LimitExceeded")
    assert "fill its 4 live slots" in message
    full = capacity(api)
    assert (full["active"], full["demand"], full["admissible"]) == (4, 4, 0)
    for task_id in tasks:
        api.wait_status(task_id, "recording", timeout=30)
    assert wait_capacity(api, 10, busy=4, queued=0)["free"] == 0

    # When one worker dies outright (no drain: its advert is left to expire)
    doomed.kill()

    # Then its slots stop counting once the advert expires: two live slots for four tasks
    after = wait_capacity(api, ADVERT_TTL_S + 10, workers=1, slots=SLOTS_PER_WORKER)
    assert after["demand"] == 4  # its tasks still want slots: KEDA would add a pod
    status, code, message = refused(api, "user5")
    assert (status, code) == (429, "LimitExceeded")
    assert "fill its 2 live slots" in message


def test_a_draining_worker_withdraws_its_slots_at_once(api, farm_process):
    # Given one idle recorder worker, counted
    (worker,) = recorders(farm_process, "recorder-a")
    wait_capacity(api, 10, workers=1, slots=SLOTS_PER_WORKER)

    # When it is told to stop (SIGTERM, as a rollout or a scale-down does) and has exited
    worker.stop()

    # Then its slots are gone now, not when its advert would have expired
    assert capacity(api)["workers"] == 0
    assert "0 live slots" in refused(api, "late")[2]


def test_slots_the_autoscaler_can_reach_are_admitted_before_its_pods_exist(settings):
    from dispatcher.app import create_app

    # Given a farm whose autoscaler can bring the recorders to 2 slots, none running yet
    scalable = settings.model_copy(update={"admission_autoscaled_slots": {"recorder": 2}})
    api = RecorderApi(create_app(scalable).test_client())

    # When three recordings start
    api.start(seeds_request("first"))
    api.start(seeds_request("second"))
    status, code, message = refused(api, "third")

    # Then two wait in the queue for the pods KEDA adds (their demand), and the third is refused
    assert (status, code) == (429, "LimitExceeded")
    assert "fill the 2 slots its autoscaler can reach (0 live)" in message
    assert (capacity(api)["queued"], capacity(api)["demand"]) == (2, 2)
