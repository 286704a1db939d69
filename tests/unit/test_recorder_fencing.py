"""Segments on a disk two epochs share (a worker frozen or killed, the task taken over on
the same machine): the new owner lists its own, and what the old one had closed when it
took over, never what the old one's ffmpeg writes later."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from workers.common.segments import SegmentShipper


class FakeStore:
    def __init__(self, stored: list[dict[str, Any]]) -> None:
        self.listed = list(stored)

    def segments(self, task_id: str) -> list[dict[str, Any]]:
        return list(self.listed)

    def add_segment(
        self, task_id: str, epoch: int, entry: dict[str, Any], listed: Any = None
    ) -> bool:
        self.listed.append(entry)
        return True

    def set_progress(self, task_id: str, **figures: Any) -> None:
        pass


class FakeStorage:
    def put(self, path: Path, key: str) -> None:
        pass


def close_segment(directory: Path, stem: str, index: int) -> None:
    """What ffmpeg's segment muxer does: write the file, then list it in the run's CSV."""
    name = f"{stem}_{index:05d}.ts"
    (directory / name).write_bytes(b"x" * 188)
    with (directory / f"{stem}.csv").open("a") as listing:
        listing.write(f"{name},{2.0 * index},{2.0 * index + 2}\n")


def shipper(tmp_path: Path, epoch: int, store: FakeStore) -> SegmentShipper:
    ctx = SimpleNamespace(
        task_id="t1", epoch=epoch, store=store, segment_dir=tmp_path,
        report=lambda **figures: None,
    )  # fmt: skip
    return SegmentShipper(ctx, FakeStorage())  # type: ignore[arg-type]


def names(store: FakeStore) -> list[str]:
    return [item["name"] for item in store.listed]


def test_the_new_owner_lists_what_the_old_one_had_closed_then_its_own(tmp_path):
    store = FakeStore([{"name": "e0001r0001_00000.ts", "key": "k", "duration": 2, "size": 188}])
    close_segment(tmp_path, "e0001r0001", 0)
    close_segment(tmp_path, "e0001r0001", 1)  # closed, not shipped: the worker froze
    new = shipper(tmp_path, 2, store)
    close_segment(tmp_path, "e0002r0001", 0)
    new.ship_new()
    assert names(store) == ["e0001r0001_00000.ts", "e0001r0001_00001.ts", "e0002r0001_00000.ts"]


def test_what_the_old_ffmpeg_writes_after_the_takeover_is_left_out(tmp_path):
    store = FakeStore([])
    close_segment(tmp_path, "e0001r0001", 0)
    new = shipper(tmp_path, 2, store)
    close_segment(tmp_path, "e0002r0001", 0)
    new.ship_new()
    close_segment(tmp_path, "e0001r0001", 1)  # the frozen worker came back for a moment
    close_segment(tmp_path, "e0002r0001", 1)
    new.ship_new()
    assert names(store) == ["e0001r0001_00000.ts", "e0002r0001_00000.ts", "e0002r0001_00001.ts"]
    assert names(store) == sorted(names(store))
