"""A viewer of one participant of a Janus VideoRoom, for the tests: Chromium (headless,
through Playwright's sync API) on tests/pages/janus-subscribe.html, subscribed as a person's
browser would be through janus.js. It follows the participant by display name (a new feed
after they leave and come back) and tells what it receives: frames decoded, the colour at
the centre of the picture, the audio's RMS and loudest frequency.

Playwright's sync API: call it from the test's own thread, never inside a running asyncio
loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests.support.http import StaticServer
from tests.support.janus import JanusServer
from tests.support.tools import wait_until

PAGE = Path(__file__).resolve().parents[1] / "pages" / "janus-subscribe.html"
# A tone's RMS once it is fully in the analyser's window; its first window, still partly
# silence (Opus fades in), can be below it: a test that read that window flaked (0.004).
AUDIBLE_RMS = 0.01
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip


class BrowserSubscriber:
    """start() opens the page; received() is the page's window.received(); wait_receiving()
    waits for frames and sound; close() closes the browser."""

    def __init__(
        self,
        pages: StaticServer,
        janus: JanusServer,
        room: int,
        display: str,
        directory: Path,
        pin: str = "",
    ) -> None:
        self.display = display
        self.profile = directory / "subscriber-profile"
        query = urlencode({"server": janus.url, "room": room, "display": display, "pin": pin})
        self._url = f"{pages.url_for(PAGE.name)}?{query}"  # holds the pin: never in a message
        self._playwright: Any = None
        self._context: Any = None
        self._page: Any = None

    def start(self, timeout: float = 30.0) -> BrowserSubscriber:
        """Open the page; return once it speaks to Janus (waiting or already subscribed)."""
        from playwright.sync_api import sync_playwright

        self.profile.mkdir(parents=True, exist_ok=True)
        self._playwright = sync_playwright().start()
        self._context = self._playwright.chromium.launch_persistent_context(
            str(self.profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        self._page = self._context.pages[0] if self._context.pages else self._context.new_page()
        self._page.goto(self._url)
        wait_until(self._connected, timeout, 0.2, "the subscribe page to reach Janus")
        return self

    def received(self) -> dict[str, Any]:
        """{frames, width, height, centre: [r, g, b] | None, audioRms, audioPeakHz,
        feedDisplay, feedId, lastError, connected, state}; AssertionError when the page
        failed (it lost Janus, or the room refused it)."""
        state: dict[str, Any] = self._page.evaluate("window.received()")
        if state["state"].startswith("error"):
            raise AssertionError(f"the subscriber of {self.display!r} failed: {state['state']}")
        return state

    def wait_receiving(self, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until the subscribed feed's frames grow and its sound is audible; return
        what was received then."""
        first = self.received()["frames"]

        def receiving() -> dict[str, Any] | None:
            now = self.received()
            flowing = now["frames"] > first and now["audioRms"] > AUDIBLE_RMS
            return now if now["state"] == "subscribed" and flowing else None

        got = wait_until(receiving, timeout, 0.25, f"frames and sound of {self.display!r}")
        assert isinstance(got, dict)
        return got

    def close(self) -> None:
        """Idempotent: close the browser, then Playwright."""
        context, self._context = self._context, None
        playwright, self._playwright = self._playwright, None
        if context is not None:
            context.close()
        if playwright is not None:
            playwright.stop()

    def _connected(self) -> bool:
        ready = self._page.evaluate("typeof window.received === 'function'")
        return bool(ready and self.received()["connected"])
