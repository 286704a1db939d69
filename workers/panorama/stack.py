"""The browser stack of one task, started in a fixed order and torn down in reverse:

display (Xvfb) ─▶ audio sink (PulseAudio) ─▶ page proxy (URL policy) ─▶ browser (Chromium) ─▶ page

A stack is built for one task: by the task itself (cold), or ahead of it as a warm slot
(workers/panorama/slots.py) that one task then takes. ``scratch_home``: the browser's home
(profile, cookies, storage, cache) is the stack's own and is removed with it.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable
from pathlib import Path

from workers.common.domain.errors import Code, FarmFault
from workers.common.media.process import ProcessFailed
from workers.panorama.browser import Browser
from workers.panorama.builders import Frame
from workers.panorama.display import AudioSink, Display
from workers.panorama.proxy import PageProxy

log = logging.getLogger(__name__)


class BrowserStack:
    def __init__(
        self,
        frame: Frame,
        chromium: str,
        home: Path,
        allowlist: Iterable[str],
        *,
        scratch_home: bool = False,
    ) -> None:
        self.frame = frame
        self.scratch_home = scratch_home
        self.chromium = chromium
        self.home = home
        self.allowlist = tuple(allowlist)
        self.display: Display | None = None
        self.audio: AudioSink | None = None
        self.proxy: PageProxy | None = None
        self.browser: Browser | None = None

    def start(self) -> BrowserStack:
        try:
            self.display = Display(self.frame).start()
            self.audio = AudioSink().start()
            self.proxy = PageProxy(self.allowlist).start()
        except (ProcessFailed, OSError) as exc:
            self.close()
            raise FarmFault(f"browser stack did not start: {exc}", Code.BROWSER_CRASHED) from exc
        self.browser = Browser(
            self.chromium,
            self.frame,
            self.display.name,
            self.audio.server,
            self.home,
            proxy=self.proxy.server,
        )
        try:
            self.browser.launch()
        except Exception:
            self.close()
            raise
        return self

    @property
    def blocked_requests(self) -> int:
        """The page's requests the URL policy refused so far."""
        return self.proxy.blocked if self.proxy is not None else 0

    def failure(self) -> str:
        """Why the stack cannot be recorded any more, or ''."""
        if self.browser is not None and self.browser.signals.crashed:
            return f"Chromium: {self.browser.signals.crashed}"
        if self.display is not None and not self.display.alive:
            return str(self.display.proc.failure("the X display (Xvfb) died"))
        if self.audio is not None and not self.audio.alive:
            return str(self.audio.proc.failure("the audio sink (PulseAudio) died"))
        return ""

    def close(self) -> None:
        """Reverse order; every step runs even when an earlier one fails."""
        for part in (self.browser, self.proxy, self.audio, self.display):
            if part is None:
                continue
            try:
                part.close()
            except Exception:
                log.exception("panorama: closing %s failed", type(part).__name__)
        self.browser = self.proxy = self.audio = self.display = None
        if self.scratch_home:
            shutil.rmtree(self.home, ignore_errors=True)
