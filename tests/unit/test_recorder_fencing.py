"""Segments on a disk two epochs share (a worker frozen or killed, the task taken over on
the same machine): the new owner lists its own, and what the old one had closed when it
took over, never what the old one's ffmpeg writes later."""

from __future__ import annotations

from tests.support.segments import FakeStore, close_segment, shipper


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
