"""The session's page liveness: a page that stops answering ends the task (BrowserHung)
once it has been silent for stall_timeout_s, and its Chromium is killed; a page that
answers again in time goes on. A fake browser and a fake clock: no Chromium here."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.support.clock import FakeClock
from workers.common.domain.errors import FarmFault
from workers.panorama import session as session_module
from workers.panorama.session import PanoramaSession


class FakeBrowser:
    def __init__(self) -> None:
        self.answers = True
        self.killed = False

    def answering(self, timeout_s: float) -> bool:
        return self.answers

    def kill(self) -> None:
        self.killed = True


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(now=1000.0)


def watched(clock: FakeClock) -> PanoramaSession:
    """A session as it is once recording: the page answered at the start."""
    ctx = SimpleNamespace(
        spec=SimpleNamespace(StorageType="cfs", Width=640, Height=360),
        settings=SimpleNamespace(stall_timeout_s=10.0),
    )
    return PanoramaSession(ctx, clock=clock)  # type: ignore[arg-type]


def test_a_page_silent_longer_than_the_stall_timeout_is_browser_hung(clock):
    session, browser = watched(clock), FakeBrowser()
    browser.answers = False
    for _ in range(5):  # silent, but not for long enough yet
        clock.advance(2.0)
        session._raise_if_hung(browser)  # type: ignore[arg-type]
    clock.advance(2.0)
    with pytest.raises(FarmFault) as failed:
        session._raise_if_hung(browser)  # type: ignore[arg-type]
    assert failed.value.code == "BrowserHung"
    assert "what was recorded before is kept" in failed.value.message
    assert browser.killed


def test_a_page_that_answers_again_in_time_goes_on(clock):
    session, browser = watched(clock), FakeBrowser()
    for answers in (False, False, False, True, False, False, False):
        browser.answers = answers
        clock.advance(2.5)
        session._raise_if_hung(browser)  # type: ignore[arg-type]
    assert not browser.killed


def test_the_page_is_asked_only_every_few_seconds(clock):
    session, browser = watched(clock), FakeBrowser()
    asked = []
    browser.answering = lambda timeout_s: asked.append(timeout_s) or True  # type: ignore[method-assign]
    for _ in range(10):
        clock.advance(0.5)
        session._raise_if_hung(browser)  # type: ignore[arg-type]
    assert len(asked) == 10 * 0.5 // session_module.LIVENESS_EVERY_S
