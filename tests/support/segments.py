"""Shipping segments without Redis or storage: a store that keeps its list in memory, a
storage that keeps nothing, and segments closed as ffmpeg's segment muxer closes them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from workers.common.runtime.segments import SegmentShipper


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
