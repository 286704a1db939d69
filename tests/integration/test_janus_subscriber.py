"""The browser viewer the pusher's room tests rely on (tests/support/janus_subscriber.py) is
honest: against a real Janus VideoRoom and aiortc participants publishing a known colour and
tone, it shows the colour and hears the tone of the participant it was asked for, and no
other, and it follows that participant when they leave and come back under a new feed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.janus import (
    COLOUR,
    TONE_HZ,
    JanusPublisher,
)
from tests.support.janus_subscriber import AUDIBLE_RMS, BrowserSubscriber
from tests.support.tools import wait_until

pytestmark = pytest.mark.integration

PIN = "room-pin-8840"
MAGENTA = (210, 40, 170)
BLUE = (30, 60, 220)


@pytest.fixture
def participants(janus_server) -> Iterator[Callable[..., JanusPublisher]]:
    """participants(room, display, pin=, colour=, tone_hz=): an aiortc participant publishing;
    every one still there leaves at the end."""
    started: list[JanusPublisher] = []

    def join(room: int, display: str, **options) -> JanusPublisher:
        one = JanusPublisher(janus_server.url, room, display, **options)
        started.append(one)
        return one.start()

    yield join
    for one in started:
        one.leave()


def near(got, want, tolerance: float = 25) -> bool:
    return got is not None and all(abs(g - w) < tolerance for g, w in zip(got, want, strict=True))


def test_it_sees_the_colour_and_hears_the_tone_of_the_participant(
    janus_server, participants, subscriber
):
    # Given a participant publishing a colour and a tone in a room with a pin
    room = janus_server.create_room(4401, pin=PIN)
    participants(room, "alice", pin=PIN)

    # When a browser subscribes to them
    viewer = subscriber(room, "alice", pin=PIN)
    viewer.wait_receiving(timeout=30)

    # Then it shows their picture, at their size, of their colour, and hears their tone
    got = _settled(viewer, COLOUR)
    assert got["feedDisplay"] == "alice"
    assert (got["width"], got["height"]) == (320, 180)
    assert abs(got["audioPeakHz"] - TONE_HZ) < 50, got


def test_it_watches_the_participant_it_was_asked_for(janus_server, participants, subscriber):
    # Given two participants of different colours and tones in one room
    room = janus_server.create_room(4402)
    participants(room, "bob", colour=BLUE, tone_hz=600.0)
    participants(room, "carol", colour=MAGENTA, tone_hz=1500.0)

    # When a browser subscribes to carol
    viewer = subscriber(room, "carol")
    viewer.wait_receiving(timeout=30)

    # Then it shows carol's colour and hears carol's tone, not bob's
    got = _settled(viewer, MAGENTA)
    assert got["feedDisplay"] == "carol"
    assert abs(got["audioPeakHz"] - 1500.0) < 50, got


def test_it_follows_the_participant_who_leaves_and_comes_back(
    janus_server, participants, subscriber
):
    # Given a browser watching dave, who publishes blue
    room = janus_server.create_room(4403)
    first = participants(room, "dave", colour=BLUE)
    viewer = subscriber(room, "dave")
    viewer.wait_receiving(timeout=30)
    before = _settled(viewer, BLUE)

    # When dave leaves (the browser waits) and comes back as a new feed publishing magenta
    first.leave()
    _until(viewer, lambda r: r["state"] == "waiting", "dave gone")
    participants(room, "dave", colour=MAGENTA, tone_hz=1500.0)

    # Then it subscribes to the new feed and shows and hears what dave sends now
    _until(viewer, lambda r: r["feedId"] not in (None, before["feedId"]), "the new feed", 15)
    viewer.wait_receiving(timeout=30)
    got = _settled(viewer, MAGENTA)
    assert got["feedDisplay"] == "dave"
    assert abs(got["audioPeakHz"] - 1500.0) < 50, got


def test_a_wrong_pin_gets_nothing_and_says_why(janus_server, participants, subscriber):
    # Given a participant publishing in a room with a pin
    room = janus_server.create_room(4404, pin=PIN)
    participants(room, "erin", pin=PIN)

    # When a browser tries to watch them with the wrong pin
    viewer = subscriber(room, "erin", pin="not-the-pin")

    # Then the room refuses it: it receives no frame and no sound, and tells why
    got = _until(viewer, lambda r: r["lastError"], "a refusal", timeout=15)
    assert "unauthorized" in str(got["lastError"]).lower(), got
    assert got["state"] == "waiting"
    assert (got["frames"], got["audioRms"]) == (0, 0), got


def _until(viewer: BrowserSubscriber, condition, what: str, timeout: float = 10) -> dict:
    """What the viewer receives once ``condition`` holds of it."""

    last: list[dict] = []

    def check() -> dict | None:
        last[:] = [viewer.received()]
        return last[0] if condition(last[0]) else None

    try:
        got = wait_until(check, timeout, 0.25, what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last received: {last}") from None
    assert isinstance(got, dict)
    return got


def _settled(viewer: BrowserSubscriber, colour) -> dict:
    """What the viewer receives once its picture shows ``colour`` with sound (the first
    decoded frames may still be grey)."""
    return _until(
        viewer,
        lambda r: near(r["centre"], colour) and r["audioRms"] > AUDIBLE_RMS,
        f"the colour {colour} with sound",
    )
