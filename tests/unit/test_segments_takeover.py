"""What a takeover lost: from the end of what is stored (or the last start/resume) to the
moment the new worker captures again, less what it still ships from the old one's disk."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.support.segments import FakeStore, close_segment, shipper
from workers.common.delivery.storage import LocalStorage
from workers.common.domain.errors import FarmFault
from workers.common.runtime.segments import SegmentShipper


def stored(closed_at: float) -> dict[str, object]:
    return {"name": "e0001r0001_00000.ts", "key": "k", "duration": 2, "size": 188,
            "closed_at": closed_at}  # fmt: skip


def test_the_gap_runs_from_the_last_stored_segment_to_now(tmp_path):
    new = shipper(tmp_path, 2, FakeStore([stored(100.0)]))
    assert new.unstored_s(now=107.5, capture_since=90.0) == 7.5


def test_a_resume_after_the_last_segment_is_where_the_gap_starts(tmp_path):
    new = shipper(tmp_path, 2, FakeStore([stored(100.0)]))  # paused at 100, resumed at 105
    assert new.unstored_s(now=107.0, capture_since=105.0) == 2.0


def test_a_task_taken_over_before_its_first_segment_lost_all_since_its_start(tmp_path):
    assert shipper(tmp_path, 2, FakeStore([])).unstored_s(now=50.0, capture_since=46.0) == 4.0


def test_nothing_known_nothing_counted(tmp_path):
    assert shipper(tmp_path, 2, FakeStore([])).unstored_s(now=50.0, capture_since=0.0) == 0.0


def test_segments_the_old_worker_closed_on_this_disk_are_not_lost(tmp_path):
    store = FakeStore([stored(100.0)])
    close_segment(tmp_path, "e0001r0001", 1)  # closed (2 s), not listed: same machine
    new = shipper(tmp_path, 2, store)
    assert new.unstored_s(now=107.0, capture_since=90.0) == 5.0
    new.ship_new()
    assert store.listed[-1]["closed_at"] > 0


def test_segments_in_another_machines_directory_are_named_lost_with_the_setting(tmp_path):
    ctx = SimpleNamespace(
        task_id="t1", epoch=2, store=FakeStore([stored(100.0)]),
        segment_dir=tmp_path / "work", report=lambda **figures: None,
    )  # fmt: skip
    here = SegmentShipper(ctx, LocalStorage(tmp_path / "not-shared"))  # type: ignore[arg-type]
    with pytest.raises(FarmFault, match="CAPSTAN_INTERMEDIATE_STORAGE=s3") as lost:
        here.fetch_all()
    assert lost.value.code == "SegmentsLost"
