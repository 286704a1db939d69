"""The upload step rides out a storage outage: retried after 1, 2, 4 ... 60 s for the
upload window, at once final for the request's own fault (no such bucket) or once the
lease is lost. A fake clock: the ten minutes pass at once."""

from __future__ import annotations

import logging

import pytest

from tests.support.clock import FakeClock
from workers.common.domain.errors import FarmFault, UserFault
from workers.common.pacing.backoff import Retries, RetryPolicy
from workers.common.runtime.finalize import retry_upload
from workers.common.runtime.session import UploadedFile

STORED = [UploadedFile("a.mp4", "k/a.mp4", "http://files/k/a.mp4", 10, 1.0)]


class FlakyStorage:
    """Fails ``failures`` times with ``fault``, then stores."""

    def __init__(self, failures: int, fault: Exception) -> None:
        self.failures, self.fault, self.tries = failures, fault, 0

    def put(self) -> list[UploadedFile]:
        self.tries += 1
        if self.tries <= self.failures:
            raise self.fault
        return STORED


def retries(clock: FakeClock, window_s: float = 600.0) -> Retries:
    return Retries(RetryPolicy(window_s=window_s), clock=clock, sleep=clock.sleep)


def test_a_storage_down_for_a_while_is_ridden_out_with_backoff(caplog):
    clock, storage = FakeClock(), FlakyStorage(3, FarmFault("connection refused", "UploadFailed"))
    with caplog.at_level(logging.WARNING):
        files = retry_upload(storage.put, retries(clock), stop=lambda: False, task_id="t1")
    assert files == STORED and storage.tries == 4
    assert clock.slept == [1, 2, 4]
    assert "task t1: upload failed, retrying in 1s: connection refused" in caplog.text


def test_a_storage_down_for_the_whole_window_fails_the_upload():
    clock, storage = FakeClock(), FlakyStorage(1000, FarmFault("503", "UploadFailed"))
    with pytest.raises(FarmFault):
        retry_upload(storage.put, retries(clock), stop=lambda: False, task_id="t1")
    assert clock.slept == [1, 2, 4, 8, 16, 32, *[60] * 8]
    assert storage.tries == len(clock.slept) + 1  # 543 s: one more 60 s wait passes 600 s


def test_the_requests_own_fault_is_final_at_once():
    clock, storage = FakeClock(), FlakyStorage(1, UserFault("no such bucket", "UploadFailed"))
    with pytest.raises(UserFault):
        retry_upload(storage.put, retries(clock), stop=lambda: False, task_id="t1")
    assert storage.tries == 1 and clock.slept == []


def test_a_lost_lease_stops_the_retries():
    clock, storage = FakeClock(), FlakyStorage(5, FarmFault("timeout", "UploadFailed"))
    with pytest.raises(FarmFault):
        retry_upload(storage.put, retries(clock), stop=lambda: True, task_id="t1")
    assert storage.tries == 1 and clock.slept == []
