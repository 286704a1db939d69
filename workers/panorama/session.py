"""The panorama session: a web page in Chromium, recorded into segments.

start   : browser stack (a warm slot's when one is ready: slots.py) + page (PageLoadFailed
          when it does not load), then a capture run
pause   : end the capture run (the browser keeps running)   resume: a new capture run
live    : LiveOutputs stream the capture's packets while it records, a pause frame while
          paused (workers/panorama/live.py); Stop ends them after the last segment
refresh : reload the page, the capture run goes on
poll    : the page's stopRecord ends the task; a crashed browser, a page that stops
          answering (hung) or a stalled ffmpeg raises (what was captured is kept and
          delivered with the error)

Every request the page makes goes through the task's page proxy (URL policy): a refused
RecordURL fails the start (PageLoadFailed), a refused subresource only fails in the page
and is counted in Progress.BlockedRequests.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workers.common.domain import urlpolicy
from workers.common.domain.errors import Code, FarmFault, UserFault
from workers.common.domain.specs.panorama import PanoramaStart
from workers.common.media.ffprobe import stream_ends
from workers.common.media.process import ProcessFailed
from workers.common.runtime.session import Destination, EndReason, Session, TaskContext
from workers.panorama import builders, output, slots
from workers.panorama.browser import Browser
from workers.panorama.builders import Frame
from workers.panorama.capture import CaptureRun, Figures
from workers.panorama.live import LiveOutputs, live_outputs
from workers.panorama.stack import BrowserStack

log = logging.getLogger(__name__)

CAPTURE_READY_S = 15.0
LIVENESS_EVERY_S = 2.0  # how often a recording page is asked to run a trivial script
LIVENESS_TIMEOUT_S = 2.0  # how long one such question may take


class PanoramaSession(Session[PanoramaStart]):
    spec_model = PanoramaStart

    def __init__(
        self, ctx: TaskContext[PanoramaStart], clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(ctx)
        self._clock = clock  # monotonic seconds (injected: the liveness tests move it)
        self.storage_type = ctx.spec.StorageType
        self.frame = Frame(ctx.spec.Width, ctx.spec.Height)
        self.stack: BrowserStack | None = None
        self.capture: CaptureRun | None = None
        self.live: LiveOutputs | None = None  # when the Start asks for live outputs
        self._waiting_since: float | None = None
        self._earlier_runs = Figures()  # frames, dups and drops of the runs already ended
        self._blocked = 0  # the page's requests refused by the URL policy
        self._answered_at = self._asked_at = clock()  # page liveness
        self._skew_measured: Path | None = None  # the segment AvSkewMs was read from

    # ---- capture ---------------------------------------------------------------------

    def wait_for_start(self) -> bool:
        """ManualStart: the page is open and recording waits for window.startRecord()."""
        if not self.spec.ManualStart:
            return True
        browser = self._open_page()
        if self._waiting_since is None:
            self._waiting_since = self._clock()
        browser.pump(50)
        self._raise_if_broken()
        if browser.signals.start_requested:
            return True
        limit = self.ctx.settings.manual_start_timeout_s
        if self._clock() - self._waiting_since > limit:
            raise UserFault(
                f"ManualStart: the page did not call window.startRecord() within {limit:.0f}s",
                Code.MANUAL_START_TIMEOUT,
            )
        return False

    def start(self) -> None:
        self._open_page()
        self._begin_run()

    def pause(self) -> None:
        self._end_run()
        if self.live is not None:
            self.live.pause()

    def resume(self) -> None:
        self._open_page()  # a worker taking over a paused task has no browser yet
        self._begin_run()

    def refresh(self) -> None:
        if self.stack is not None and self.stack.browser is not None:
            self.stack.browser.reload(self.ctx.settings.page_load_timeout_s)

    def stop(self) -> None:
        self._end_run()
        if self.live is not None:
            self.live.stop()  # after the last segment: the live stream ends with the file

    def poll(self) -> EndReason | None:
        if self.stack is None or self.stack.browser is None or self.capture is None:
            return None
        browser = self.stack.browser
        browser.pump()
        self._raise_if_broken()
        self._raise_if_hung(browser)
        self._report(self.capture.check(self.ctx.settings.stall_timeout_s))
        self._measure_skew(self.capture)
        if browser.signals.stop_requested:
            return EndReason("the page called window.stopRecord()")
        return None

    def max_duration_s(self) -> float | None:
        return float(self.spec.MaxDurationLimit) or None

    # ---- finalize --------------------------------------------------------------------

    def transcode(self, segments: list[Path], out_dir: Path) -> list[Path]:
        """One output per Muxer (MP4, HLS or both), each from the same closed segments."""
        stop_time = int(self.ctx.record.times.get("stop_time") or time.time())
        settings = self.ctx.settings
        return output.package_all(
            segments,
            out_dir,
            self.spec.video,
            target_name=self.spec.cos.TargetName,
            stop_time=stop_time,
            segment_seconds=settings.segment_seconds,
            ffmpeg_cmd=settings.ffmpeg,
        )

    def destination(self) -> Destination:
        return output.destination(self.ctx.settings, self.spec.cos, self.ctx.task_id)

    def callback_url(self) -> str | None:
        return self.spec.CallbackURL

    def close(self) -> None:
        try:
            self._end_run()
        finally:
            if self.live is not None:
                self.live.close()
                self.live = None
            if self.stack is not None:
                self.stack.close()
                self.stack = None

    # ---- helpers ---------------------------------------------------------------------

    def _open_page(self) -> Browser:
        if self.stack is None:
            self._check_url()
            self.stack = self._new_stack()
            assert self.stack.browser is not None
            self.stack.browser.open(self.spec.RecordURL, self.ctx.settings.page_load_timeout_s)
        assert self.stack.browser is not None
        return self.stack.browser

    def _new_stack(self) -> BrowserStack:
        """A warm slot's stack when one is ready (workers/panorama/slots.py), else a new one.
        Progress.WarmStart tells which (1: a warm slot)."""
        warm = slots.take(self.frame)
        self.ctx.report(WarmStart=int(warm is not None))
        if warm is not None:
            log.info("task %s: a warm slot", self.ctx.task_id)
            return warm
        home = self.ctx.work_dir / "browser"
        settings = self.ctx.settings
        return BrowserStack(self.frame, settings.chromium, home, settings.url_allowlist).start()

    def _check_url(self) -> None:
        try:
            urlpolicy.check(self.spec.RecordURL, self.ctx.settings.url_allowlist)
        except urlpolicy.UrlRefused as exc:
            raise UserFault(
                f"RecordURL {self.spec.RecordURL} {exc}", Code.PAGE_LOAD_FAILED
            ) from exc

    def _begin_run(self) -> None:
        assert self.stack is not None and self.stack.display is not None
        assert self.stack.audio is not None
        settings = self.ctx.settings
        run = self.ctx.new_run()
        progress = self.ctx.work_dir / f"{run.stem}.progress"
        argv = builders.capture(
            self.frame,
            self.stack.display.name,
            self.stack.audio.server,
            run=run,
            segment_seconds=settings.segment_seconds,
            progress=progress,
            wallclock_s=time.time(),
            live_ports=self._live_ports(),
            encoder=builders.Encoder.of(settings),
        )
        self.capture = CaptureRun([settings.ffmpeg, *argv], run, progress).start(CAPTURE_READY_S)
        self.stack.audio.hand_over()  # the capture keeps the sink rendering now
        self._answered_at = self._asked_at = self._clock()

    def _live_ports(self) -> list[int]:
        """The live outputs' ports for the next capture run (their relays started on the
        first run; the pause filler stopped on a resume), or none."""
        urls = self.spec.live_urls
        if not urls:
            return []
        if self.live is None:
            self.live = live_outputs(
                urls,
                self.frame,
                self.spec.PauseFrame,
                self.ctx.work_dir / "live",
                settings=self.ctx.settings,
                report=lambda views: self.ctx.report(LiveOutputs=views),
            )
        else:
            self.live.resume()
        return self.live.ports

    def _end_run(self) -> None:
        if self.capture is None:
            return
        capture, self.capture = self.capture, None
        try:
            self._listen_before_the_capture_ends()
            capture.stop()
            self.ctx.end_run(capture.run)
        finally:
            last = capture.figures()
            self._earlier_runs = _add(self._earlier_runs, last)
            self._report(Figures())

    def _listen_before_the_capture_ends(self) -> None:
        """The sink's listener back before the capture lets go (display.AudioSink). Should it
        fail, the file still comes first: the capture stops as asked, and the next run's
        sound may begin up to 2 s late (the capture filters fill that with silence)."""
        if self.stack is None or self.stack.audio is None:
            return
        try:
            self.stack.audio.listen()
        except ProcessFailed as exc:
            log.warning("the audio sink's listener did not start: %s", exc)

    def _raise_if_broken(self) -> None:
        if self.stack is None:
            return
        broken = self.stack.failure()
        if broken:
            raise FarmFault(f"{broken}; what was recorded before is kept", Code.BROWSER_CRASHED)

    def _raise_if_hung(self, browser: Browser) -> None:
        """BrowserHung when the page has not answered for stall_timeout_s: a frozen page
        keeps its last picture on the screen and the capture would record it for ever."""
        if self._clock() - self._asked_at < LIVENESS_EVERY_S:
            return
        answered = browser.answering(LIVENESS_TIMEOUT_S)
        self._asked_at = self._clock()
        if answered:
            self._answered_at = self._asked_at
            return
        limit = self.ctx.settings.stall_timeout_s
        if self._asked_at - self._answered_at > limit:
            browser.kill()
            raise FarmFault(
                f"Chromium: the page stopped answering for {limit:.0f}s (hung); "
                "what was recorded before is kept",
                Code.BROWSER_HUNG,
            )

    def _measure_skew(self, capture: CaptureRun) -> None:
        """Progress.AvSkewMs: at the end of the newest closed segment, where the sound
        stands against the picture on the capture clocks (audio end minus video end).
        Within a frame or two it is healthy; growing, the sound is slipping."""
        last = capture.run.last_closed()
        if last is None or last == self._skew_measured:
            return
        self._skew_measured = last
        try:
            ends = stream_ends(last, self.ctx.settings.ffprobe)
        except (OSError, subprocess.SubprocessError) as exc:
            log.debug("task %s: no A/V skew from %s: %s", self.ctx.task_id, last.name, exc)
            return
        self.ctx.report(AvSkewMs=round((ends.audio_s - ends.video_s) * 1000))

    def _report(self, current: Figures) -> None:
        total = _add(self._earlier_runs, current)
        if self.stack is not None:
            self._blocked = self.stack.blocked_requests
        # ffmpeg's words: a duplicated frame fills a slot no fresh capture came for
        # (the page's picture was late), a dropped one came too late to be used.
        figures: dict[str, Any] = {
            "Frames": total.frames,
            "DuplicatedFrames": total.dup,
            "DroppedFrames": total.drop,
            "BlockedRequests": self._blocked,
        }
        self.ctx.report(**figures)


def _add(a: Figures, b: Figures) -> Figures:
    return Figures(a.frames + b.frames, a.dup + b.dup, a.drop + b.drop, a.out_time_s + b.out_time_s)
