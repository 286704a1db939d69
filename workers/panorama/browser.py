"""Chromium, driven by Playwright's sync API, showing one page in kiosk mode.

Playwright's sync API belongs to the thread that started it, so each Browser has a
thread of its own (``PlaywrightThread``) that runs every Playwright call of it: a browser
launched ahead of its task (a warm slot, workers/panorama/slots.py) is then driven from the
task's thread all the same. Events (a crash, the page calling window.startRecord/stopRecord)
arrive only while Playwright is called: ``pump()`` gives them a moment.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from workers.common.domain.errors import Code, FarmFault, UserFault
from workers.panorama import builders
from workers.panorama.builders import Frame
from workers.panorama.proxy import ERROR_HEADER

log = logging.getLogger(__name__)

T = TypeVar("T")


# The profile's preferences: no "Translate this page?" bubble over a page written in another
# language than the browser's (a Chinese page, on the farm's English Chromium). No flag
# turns it off any more (--disable-translate and the Translate feature are gone).
PREFERENCES = {"translate": {"enabled": False}}
# The browser's own settings ("Local State"): Energy Saver always on (state 3, "enabled"
# in chrome://settings/performance), which throttles every frame sink to 30 frames a
# second: the page draws once per tick of the grab (builders.GRAB_RATE), not twice.
# A recording's Chromium takes two fifths less CPU (bench.panorama --only density), and
# the file's motion judders less often than at 60 (bench/pacing.py; README, "Recordings
# per machine"). test_panorama_sync.py checks the interval it draws at.
LOCAL_STATE = {"performance_tuning": {"battery_saver_mode": {"state": 3}}}


def write_profile(profile: Path) -> None:
    """A new profile starts with PREFERENCES and LOCAL_STATE; a file Chromium has already
    written is left alone."""
    for path, settings in (
        (profile / "Default" / "Preferences", PREFERENCES),
        (profile / "Local State", LOCAL_STATE),
    ):
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(settings))


class PageSignals:
    """What the page and the browser told us, set from Playwright's callbacks."""

    def __init__(self) -> None:
        self.start_requested = False
        self.stop_requested = False
        self.crashed = ""  # why, once the page or the browser is gone

    def start_record(self, *_: Any) -> bool:
        self.start_requested = True
        return True

    def stop_record(self, *_: Any) -> bool:
        self.stop_requested = True
        return True


class PlaywrightThread:
    """The one thread a browser's Playwright calls run in, whichever thread asks."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="playwright")

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self._executor.submit(fn, *args, **kwargs).result()

    def close(self) -> None:
        self._executor.shutdown(wait=True)


class Browser:
    def __init__(
        self,
        executable: str,
        frame: Frame,
        display: str,
        pulse_server: str,
        home: Path,
        *,
        proxy: str,
    ) -> None:
        self.executable = executable
        self.proxy = proxy
        self.frame = frame
        self.display = display
        self.pulse_server = pulse_server
        self.home = home
        self.signals = PageSignals()
        self._playwright: Any = None
        self._context: Any = None
        self._page: Any = None
        self._closed = False
        self._closed_by_kill = False
        self._thread = PlaywrightThread()

    @property
    def profile(self) -> Path:
        return self.home / "profile"

    def launch(self) -> Browser:
        self._thread.call(self._launch)
        return self

    def _launch(self) -> None:
        from playwright.sync_api import sync_playwright

        self.profile.mkdir(parents=True, exist_ok=True)
        write_profile(self.profile)
        self._playwright = sync_playwright().start()
        try:
            self._context = self._playwright.chromium.launch_persistent_context(
                str(self.profile),
                executable_path=self.executable,
                headless=False,
                no_viewport=True,  # the page is the window: exactly the kiosk window's size
                env=self._env(),
                args=builders.chromium_args(self.frame, self.proxy),
                ignore_default_args=builders.CHROMIUM_DROPPED_DEFAULTS,
                handle_sigint=False,
                handle_sigterm=False,
                handle_sighup=False,
            )
        except Exception as exc:
            raise FarmFault(
                f"Chromium did not start: {_first_line(exc)}", Code.BROWSER_CRASHED
            ) from exc
        self._context.on("close", lambda *_: self._gone("the browser closed or crashed"))
        self._context.expose_function("startRecord", self.signals.start_record)
        self._context.expose_function("stopRecord", self.signals.stop_record)
        pages = self._context.pages
        self._page = pages[0] if pages else self._context.new_page()
        self._page.on("crash", lambda *_: self._gone("the page crashed"))

    def _env(self) -> dict[str, str]:
        # Playwright replaces the browser's environment: keep ours (PATH, locale, TZ)
        # and point it at the task's own display, sound server and home.
        return {
            **os.environ,
            "DISPLAY": self.display,
            "PULSE_SERVER": self.pulse_server,
            "HOME": str(self.home),
            "DBUS_SESSION_BUS_ADDRESS": "disabled:",
        }

    def _gone(self, why: str) -> None:
        if not self._closed and not self._closed_by_kill and not self.signals.crashed:
            log.warning("chromium: %s", why)
            self.signals.crashed = why

    # ---- the page --------------------------------------------------------------------

    def open(self, url: str, timeout_s: float) -> None:
        """Load ``url``; PageLoadFailed when it cannot be reached or answers an error."""
        self._thread.call(self._open, url, timeout_s)

    def _open(self, url: str, timeout_s: float) -> None:
        try:
            response = self._page.goto(url, wait_until="load", timeout=timeout_s * 1000)
        except Exception as exc:
            raise UserFault(load_failure(url, exc, timeout_s), Code.PAGE_LOAD_FAILED) from exc
        refused = response.headers.get(ERROR_HEADER.lower()) if response is not None else None
        if refused:  # the page proxy answered: refused by the URL policy, or unreachable
            why = f" ({refused})" if refused.startswith("net::") else f": {refused}"
            raise UserFault(f"RecordURL {url} could not be loaded{why}", Code.PAGE_LOAD_FAILED)
        if response is not None and response.status >= 400:
            raise UserFault(
                f"RecordURL {url} answered HTTP {response.status} {response.status_text}".rstrip(),
                Code.PAGE_LOAD_FAILED,
            )

    def reload(self, timeout_s: float) -> None:
        """Reload the page; the recording goes on while it loads."""
        self._thread.call(self._reload, timeout_s)

    def _reload(self, timeout_s: float) -> None:
        try:
            self._page.reload(wait_until="commit", timeout=timeout_s * 1000)
        except Exception as exc:
            log.warning("chromium: reload did not commit: %s", _first_line(exc))

    def pump(self, ms: float = 1) -> None:
        """Let Playwright deliver pending events (crash, startRecord, stopRecord)."""
        if not self.signals.crashed and not self._closed:
            self._thread.call(self._pump, ms)

    def _pump(self, ms: float) -> None:
        try:
            self._page.wait_for_timeout(ms)
        except Exception as exc:
            self._gone(f"the browser stopped answering: {_first_line(exc)}")

    def answering(self, timeout_s: float) -> bool:
        """Does the page run a trivial script within ``timeout_s``? A frozen renderer (or
        browser) keeps its last picture on the screen, so the capture alone cannot tell.
        Playwright's driver enforces the timeout even when Chromium does not answer."""
        if self.signals.crashed:
            return True  # not hung: gone, which failure() reports
        return self._thread.call(self._answering, timeout_s)

    def _answering(self, timeout_s: float) -> bool:
        try:
            self._page.wait_for_function("() => true", timeout=timeout_s * 1000)
        except Exception as exc:
            log.debug("chromium: the page did not answer: %s", _first_line(exc))
            return False
        return True

    def kill(self) -> None:
        """SIGKILL every Chromium process of this profile (a hung browser may never
        close politely); close() then only tidies up Playwright."""
        self._closed_by_kill = True
        for pid in profile_processes(self.profile):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            for step in (self._close_context, self._stop_playwright):
                try:
                    self._thread.call(step)
                except Exception as exc:  # a crashed browser may fail to close; carry on
                    log.debug("chromium: %s during close", _first_line(exc))
        finally:
            self._thread.close()

    def _close_context(self) -> None:
        if self._context is not None:
            self._context.close()

    def _stop_playwright(self) -> None:
        if self._playwright is not None:
            self._playwright.stop()


def profile_processes(profile: Path) -> list[int]:
    """Chromium's processes for ``profile`` (the browser names it on its command line)
    and all their descendants (zygotes, renderers, GPU and utility processes)."""
    # Chromium rewrites its command line into one space-separated string: match words.
    flag = f"--user-data-dir={profile}".encode()
    parents: dict[int, int] = {}
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            words = (entry / "cmdline").read_bytes().replace(b"\0", b" ").split()
        except (OSError, IndexError):
            continue
        parents[int(entry.name)] = int(stat[1])
        if flag in words:
            found.add(int(entry.name))
    grew = True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return sorted(found)


def load_failure(url: str, exc: Exception, timeout_s: float) -> str:
    """A user-facing reason from Playwright's navigation error."""
    text = _first_line(exc)
    if "Timeout" in type(exc).__name__ or "Timeout " in text:
        return f"RecordURL {url} did not load within {timeout_s:.0f}s"
    for marker in ("net::", "NS_ERROR"):
        if marker in text:
            reason = text[text.index(marker) :].split()[0]
            return f"RecordURL {url} could not be loaded ({reason})"
    return f"RecordURL {url} could not be loaded: {text}"


def _first_line(exc: Exception) -> str:
    with contextlib.suppress(Exception):
        return str(exc).strip().splitlines()[0]
    return type(exc).__name__
