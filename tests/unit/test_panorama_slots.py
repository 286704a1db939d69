"""The warm slot pool's bookkeeping (workers/panorama/slots.py), with stand-in stacks: a slot
is handed out once, a dead one is never handed out and is replaced, another size goes cold.
The real stacks (Xvfb, PulseAudio, Chromium) are in tests/integration/test_panorama_slots.py.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable

import pytest

from config.settings import Settings
from workers.panorama import slots
from workers.panorama.builders import Frame
from workers.panorama.slots import DEFAULT_FRAME, SlotPool


class StandInBrowser:
    def __init__(self) -> None:
        self.killed = False

    def pump(self, ms: float = 1) -> None:
        pass

    def kill(self) -> None:
        self.killed = True


class StandInStack:
    """What the pool uses of a BrowserStack: its browser, failure(), close()."""

    numbers = itertools.count(1)

    def __init__(self) -> None:
        self.number = next(self.numbers)
        self.browser = StandInBrowser()
        self.dead = ""
        self.closed = False

    def failure(self) -> str:
        return self.dead

    def close(self) -> None:
        self.closed = True


class Builder:
    """build() for the pool: every stack it made, in order; fails while ``failing`` > 0."""

    def __init__(self, failing: int = 0) -> None:
        self.made: list[StandInStack] = []
        self.failing = failing

    def __call__(self) -> StandInStack:
        if self.failing:
            self.failing -= 1
            raise RuntimeError("Xvfb did not start")
        self.made.append(StandInStack())
        return self.made[-1]


def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.01)


@pytest.fixture
def make_pool():
    pools: list[SlotPool] = []

    def make(size: int = 1, builder: Builder | None = None) -> tuple[SlotPool, Builder]:
        builder = builder or Builder()
        pool = SlotPool(size, builder, check_every_s=0.01, settle_s=0.0)  # type: ignore[arg-type]
        pools.append(pool.start())
        return pool, builder

    yield make
    for pool in pools:
        pool.close()


def test_a_slot_is_handed_out_once_and_a_fresh_one_takes_its_place(make_pool):
    # Given a pool of two ready slots
    pool, builder = make_pool(size=2)
    until(lambda: pool.ready == 2)

    # When three Starts take one each, the pool refilling in between
    taken = []
    for _ in range(3):
        until(lambda: pool.ready == 2)
        taken.append(pool.take(DEFAULT_FRAME))

    # Then each got a different stack, and the pool is full again with others
    assert len({id(stack) for stack in taken}) == 3
    until(lambda: pool.ready == 2)
    assert len(builder.made) == 5
    assert not any(stack.closed for stack in taken)  # their tasks close them


def test_no_ready_slot_means_a_cold_start():
    # Given a pool that was never started (nothing built yet)
    pool = SlotPool(1, Builder())  # type: ignore[arg-type]
    # Then a Start finds no slot
    assert pool.take(DEFAULT_FRAME) is None


def test_a_start_of_another_size_leaves_the_slot_waiting(make_pool):
    pool, builder = make_pool()
    until(lambda: pool.ready == 1)

    assert pool.take(Frame(320, 240)) is None
    assert pool.ready == 1
    assert pool.take(DEFAULT_FRAME) is builder.made[0]


def test_a_dead_slot_is_never_handed_out(make_pool):
    # Given a ready slot whose Chromium died a moment ago
    pool, builder = make_pool()
    until(lambda: pool.ready == 1)
    dead = builder.made[0]
    dead.dead = "Chromium: the browser closed or crashed"

    # When a Start asks before the keeper noticed, or after
    got = pool.take(DEFAULT_FRAME)

    # Then it never gets the dead one, which is closed (what is left of Chromium killed)
    assert got is not dead
    until(lambda: dead.closed)
    assert dead.browser.killed
    # and a fresh slot takes its place
    until(lambda: pool.ready == 1)
    assert pool.take(DEFAULT_FRAME) not in (None, dead)


def test_a_slot_that_fails_to_build_is_tried_again(make_pool):
    pool, builder = make_pool(builder=Builder(failing=1))
    until(lambda: pool.ready == 1, timeout_s=15)
    assert len(builder.made) == 1


def test_closing_the_pool_closes_the_ready_slots_only(make_pool):
    # Given a pool of two, one of them taken by a task
    pool, builder = make_pool(size=2)
    until(lambda: pool.ready == 2)
    taken = pool.take(DEFAULT_FRAME)

    # When the worker stops
    pool.close()

    # Then the ready slots are closed, the task's is not, and no Start gets one any more
    assert [s.closed for s in builder.made if s is not taken] == [True] * (len(builder.made) - 1)
    assert taken is not None and not taken.closed
    assert pool.take(DEFAULT_FRAME) is None


def test_no_pool_when_the_setting_keeps_none():
    assert slots.start_pool(Settings(panorama_warm_slots=0)) is None
    assert slots.take(DEFAULT_FRAME) is None


def test_the_setting_is_bounded():
    with pytest.raises(ValueError):
        Settings(panorama_warm_slots=-1)


def test_orphaned_slot_homes_of_a_gone_process_are_removed(tmp_path):
    # Given slot homes of this process and of a process that is gone
    mine = tmp_path / f"{os.getpid()}-abc"
    gone = tmp_path / "999999999-def"
    for home in (mine, gone):
        (home / "profile").mkdir(parents=True)

    slots.remove_orphans(tmp_path)

    assert mine.exists()
    assert not gone.exists()


def test_a_slot_closed_under_the_keeper_counts_as_dead_not_as_a_crash():
    # Given a stack whose task closed it (its Playwright thread is gone: pump raises)
    stack = StandInStack()

    def gone(ms: float = 1) -> None:
        raise RuntimeError("cannot schedule new futures after shutdown")

    stack.browser.pump = gone  # type: ignore[method-assign]

    # Then the keeper's check says dead, and does not raise
    assert slots.alive(stack) is False  # type: ignore[arg-type]
