"""Snapshots from closed segments, as the runtime takes them: real ffmpeg segments of a
picture whose brightness tells its time, a store and storage of this process.

The picture's luma rises 20 a second from black (16), so a JPEG's grey level is
20 * 255/219 = 23.3 a second of source time: the frame a snapshot holds says when it is.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.support.openapi import assert_conforms
from workers.common.delivery.storage import LocalStorage
from workers.common.domain.describe import SNAPSHOT_STATE, describe
from workers.common.domain.specs.snapshots import SnapshotsConfig
from workers.common.domain.states import Status
from workers.common.domain.store import TaskRecord, _encode
from workers.common.runtime.session import Destination
from workers.common.runtime.snapshots import SnapshotTaker

FPS = 25
GREY_PER_S = 20 * 255 / 219
TASK = "t1"


class Store:
    """The task store's part the taker uses: the segment list and the progress hash."""

    def __init__(self) -> None:
        self.listed: list[dict[str, Any]] = []
        self.progress: dict[str, str] = {}

    def segments(self, task_id: str) -> list[dict[str, Any]]:
        return list(self.listed)

    def set_progress(self, task_id: str, **figures: Any) -> None:
        self.progress.update({k: _encode(v) for k, v in figures.items()})


def record_ramp(segment_dir: Path, seconds: float, *, offset_s: float = 0.0) -> list[Path]:
    """What a pool records: 2 s MPEG-TS segments on the recording's timeline (starting at
    ``offset_s``), of a picture whose brightness is its time."""
    segment_dir.mkdir(parents=True, exist_ok=True)
    argv = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
            "-f", "lavfi", "-i", f"color=black:size=96x64:rate={FPS},"
            "geq=lum='min(235,16+20*T)':cb=128:cr=128",
            "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-force_key_frames", "expr:gte(t,n_forced*2)", "-f", "segment", "-segment_time", "2",
            "-segment_format", "mpegts", "-initial_offset", f"{offset_s:.6f}",
            str(segment_dir / "e0001r0001_%05d.ts")]  # fmt: skip
    subprocess.run(argv, check=True, capture_output=True, timeout=60)
    return sorted(segment_dir.glob("*.ts"))


def grey(image: Path) -> float:
    argv = ["ffmpeg", "-v", "error", "-i", str(image), "-pix_fmt", "gray", "-f", "rawvideo", "-"]
    data = subprocess.run(argv, capture_output=True, check=True, timeout=30).stdout
    return sum(data) / len(data)


def shown_at(image: Path, offset_s: float = 0.0) -> float:
    """The source time of the frame in ``image``: when it was on screen."""
    return grey(image) / GREY_PER_S + offset_s


def taker(tmp_path: Path, store: Store, storage: Any = None, **config: Any) -> SnapshotTaker:
    ctx = SimpleNamespace(
        task_id=TASK, record=SimpleNamespace(progress=dict(store.progress)),
        spec=SimpleNamespace(Snapshots=SnapshotsConfig(**config)),
        settings=SimpleNamespace(ffmpeg="ffmpeg", ffprobe="ffprobe"), store=store,
        segment_dir=tmp_path / "segments", work_dir=tmp_path / "work",
        report=lambda **figures: store.set_progress(TASK, **figures),
    )  # fmt: skip
    out = storage or LocalStorage(tmp_path / "out", "http://farm")
    session = SimpleNamespace(produces_media=True, destination=lambda: Destination(out, "rec/dir"))
    made = SnapshotTaker.for_task(ctx, session, LocalStorage(tmp_path / "raw"))  # type: ignore[arg-type]
    assert made is not None
    return made


def close(store: Store, segment: Path) -> None:
    """The shipper lists a closed segment (its duration as ffmpeg's list says: 2 s)."""
    store.listed.append({"name": segment.name, "key": f"raw/{segment.name}", "duration": 2.0})


def stored(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "out/rec/dir/snapshots").glob("*"))


def test_snapshots_are_stored_as_segments_close_at_their_times_and_the_last_frame(tmp_path):
    # Given a 7 s recording in segments of 2 s, snapshots every 2 s
    segments = record_ramp(tmp_path / "segments", 7)
    store = Store()
    snaps = taker(tmp_path, store, IntervalSeconds=2)

    # When the segments close one by one, each is stored beside the recording at once
    close(store, segments[0])
    snaps.take_new(store.listed)  # hands it to the snapshot thread: the loop goes on
    assert snaps.drain(120)
    assert stored(tmp_path) == ["t1_000000.jpg"]
    assert describe(record(store.progress), "r")["Progress"] == {"Snapshots": 1}
    for segment in segments[1:]:
        close(store, segment)
        snaps.take_new(store.listed)
    snaps.finish()

    # Then there is one at 0, 2, 4, 6 s and one of the last frame, each of its time
    names = ["t1_000000.jpg", "t1_000002.jpg", "t1_000004.jpg", "t1_000006.jpg", "t1_end.jpg"]
    assert stored(tmp_path) == names
    for name, at in zip(names, [0, 2, 4, 6, 7 - 1 / FPS], strict=True):
        assert shown_at(tmp_path / "out/rec/dir/snapshots" / name) == pytest.approx(at, abs=0.1)

    # and the Result lists them with their times and links, the last frame last
    result = snaps.result()
    assert [s["Time"] for s in result["Snapshots"]] == [0, 2, 4, 6, pytest.approx(7.0, abs=0.05)]
    assert result["Snapshots"][1] == {
        "Time": 2,
        "Filename": "t1_000002.jpg",
        "FileURL": "http://farm/files/rec/dir/snapshots/t1_000002.jpg",
    }
    assert "SnapshotsCapped" not in result and "SnapshotsFailed" not in result
    body = describe(record(store.progress, result), "r")
    assert_conforms(body, "Task")
    assert body["Progress"] == {"Snapshots": 5}  # the state behind it is not shown
    assert SNAPSHOT_STATE in store.progress


def test_a_time_after_a_segments_last_frame_is_the_next_segments_first(tmp_path):
    # Given segments whose video starts 0.02 s late (as AAC's priming shifts it): each one's
    # last frame is 0.02 s before the next snapshot time
    segments = record_ramp(tmp_path / "segments", 6.5, offset_s=0.02)
    store = Store()
    snaps = taker(tmp_path, store, IntervalSeconds=2)
    for segment in segments:
        close(store, segment)
        snaps.take_new(store.listed)
    assert snaps.drain(120)

    # Then every time has its snapshot: the first frame at or after it, none failed
    result = snaps.result()
    assert [s["Time"] for s in result["Snapshots"]] == [0, 2, 4, 6]
    assert "SnapshotsFailed" not in result
    for name, at in zip(stored(tmp_path), [0.02, 2.02, 4.02, 6.02], strict=True):
        assert shown_at(tmp_path / "out/rec/dir/snapshots" / name, 0.02) == pytest.approx(
            at, abs=0.1
        )


def test_max_count_stops_them_keeps_the_last_frame_and_says_so(tmp_path):
    segments = record_ramp(tmp_path / "segments", 7)
    store = Store()
    snaps = taker(tmp_path, store, IntervalSeconds=1, MaxCount=4, Format="png")
    for segment in segments:
        close(store, segment)
        snaps.take_new(store.listed)
    snaps.finish()

    assert stored(tmp_path) == ["t1_000000.png", "t1_000001.png", "t1_000002.png", "t1_end.png"]
    assert snaps.result()["SnapshotsCapped"] is True
    progress = describe(record(store.progress), "r")["Progress"]
    assert progress == {"Snapshots": 4, "SnapshotsCapped": 1}


class BrokenStorage(LocalStorage):
    def put(self, local: Path, key: str) -> None:
        if key.endswith("000002.jpg"):
            raise OSError("the bucket is away")
        super().put(local, key)


def test_a_snapshot_that_cannot_be_stored_is_counted_and_the_others_go_on(tmp_path):
    segments = record_ramp(tmp_path / "segments", 5)
    store = Store()
    snaps = taker(
        tmp_path, store, BrokenStorage(tmp_path / "out", "http://farm"), IntervalSeconds=2
    )
    for segment in segments:
        close(store, segment)
        snaps.take_new(store.listed)  # raises nothing: the recording goes on
    assert snaps.drain(120)

    assert stored(tmp_path) == ["t1_000000.jpg", "t1_000004.jpg"]
    result = snaps.result()
    assert [s["Time"] for s in result["Snapshots"]] == [0, 4]
    assert result["SnapshotsFailed"] == 1


def test_a_worker_taking_over_goes_on_from_the_next_segment_and_lists_them_all(tmp_path):
    # Given a worker that took the first two segments' snapshots and died
    segments = record_ramp(tmp_path / "segments", 7)
    store = Store()
    first = taker(tmp_path, store, IntervalSeconds=2)
    for segment in segments[:2]:
        close(store, segment)
    first.take_new(store.listed)
    assert first.drain(120)
    first.close()
    (tmp_path / "out/rec/dir/snapshots/t1_000000.jpg").unlink()  # not taken again: see below

    # When another worker takes the task over (from the progress in the store) and goes on
    second = taker(tmp_path, store, IntervalSeconds=2)
    for segment in segments[2:]:
        close(store, segment)
    second.take_new(store.listed)
    second.finish()

    # Then it took only the later ones, and the Result lists every snapshot once
    assert stored(tmp_path) == ["t1_000002.jpg", "t1_000004.jpg", "t1_000006.jpg", "t1_end.jpg"]
    times = [s["Time"] for s in second.result()["Snapshots"]]
    assert times == [0, 2, 4, 6, pytest.approx(7.0, abs=0.05)]


def record(progress: dict[str, str], result: dict[str, Any] | None = None) -> TaskRecord:
    return TaskRecord(
        TASK, "panorama", Status.RECORDING, spec={}, progress=progress, result=result or {}
    )


def test_an_interval_longer_than_a_segment_skips_the_segments_between(tmp_path):
    segments = record_ramp(tmp_path / "segments", 11)
    store = Store()
    snaps = taker(tmp_path, store, IntervalSeconds=5)
    for segment in segments:
        close(store, segment)
        snaps.take_new(store.listed)
    assert snaps.drain(120)

    assert stored(tmp_path) == ["t1_000000.jpg", "t1_000005.jpg", "t1_000010.jpg"]
    for name, at in zip(stored(tmp_path), [0, 5, 10], strict=True):
        assert shown_at(tmp_path / "out/rec/dir/snapshots" / name) == pytest.approx(at, abs=0.1)
