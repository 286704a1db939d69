"""Live outputs: the recording streamed to RTMP/RTMPS/SRT URLs while it is made (issue 16).

    capture ffmpeg ──(its encoded packets, MPEG-TS over loopback UDP)──▶ relay ─▶ URL 1
                   └─▶ segments (the file)                         └──▶ relay ─▶ URL 2
    pause filler (only while paused: black or a slate) ──────────────▶ the same ports

No second encode: the capture's tee muxer sends the packets it writes to the segments to
one UDP port per output (builders.capture), and a relay per URL copies them on
(builders.relay, workers/panorama/relay.py). A relay that fails is restarted with the
farm's backoff, never touching the capture: the file does not notice. During a Pause no
capture runs; a filler encodes still frames to the same ports, so the relays stay
connected and players do not drop.

``LiveOutputs`` drives the relays from a thread of its own (the runtime does not poll a
paused session) and reports them in Progress.LiveOutputs with their URLs redacted: the
stream key is the user's credential and reaches no log line, message or Describe.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from workers.panorama import builders
from workers.panorama.builders import Frame
from workers.panorama.relay import Launch, Process, Relay, launch

log = logging.getLogger(__name__)

TICK_S = 0.5  # how often the relays are looked at
FILLER_RETRY_S = 5.0  # a pause filler that died is started again this long after the last
DRAIN_S = 4.0  # at Stop: how long the relays may take to send the file's last packets
DRAIN_LOOK_S = 1.1  # a relay writes its figures every 0.5 s: unchanged over this, it is idle


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveOutputs:
    """The task's live outputs: their relays, the pause filler, and their Progress item."""

    def __init__(
        self,
        relays: list[Relay],
        filler_argv: Callable[[list[int]], list[str]],
        report: Callable[[list[dict[str, Any]]], None],
        *,
        launch: Launch = launch,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.relays = relays
        self._filler_argv, self._report, self._launch, self._clock = (
            filler_argv, report, launch, clock,
        )  # fmt: skip
        self._filler: Process | None = None
        self._filler_since = float("-inf")  # when the filler was last started
        self._paused = False
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._reported: list[dict[str, Any]] = []

    @property
    def ports(self) -> list[int]:
        return [relay.port for relay in self.relays]

    def start(self) -> LiveOutputs:
        """Start the relays (they wait for the capture's packets) and their watch."""
        self.tick()
        self._thread = threading.Thread(target=self._watch, name="live-outputs", daemon=True)
        self._thread.start()
        return self

    def pause(self) -> None:
        """The capture run has ended: the filler feeds the relays until resume()."""
        with self._lock:
            self._paused = True
            self._start_filler()
            self._tick()

    def resume(self) -> None:
        """Before the next capture run: the filler stops, the capture feeds them again."""
        with self._lock:
            self._paused = False
            self._stop_filler()
            self._tick()

    def stop(self) -> None:
        """After the capture's last segment: the relays send what they hold, then end."""
        self._done.set()
        with self._lock:
            self._stop_filler()
            self._drain()
            for relay in self.relays:
                relay.stop()
            self._publish()

    def close(self) -> None:
        self._done.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
        with self._lock:
            self._stop_filler()
            for relay in self.relays:
                relay.close()

    def tick(self) -> None:
        with self._lock:
            self._tick()

    def _tick(self) -> None:
        # Under the lock, with the report: the watch's view can never land after Stop's.
        now = self._clock()
        for relay in self.relays:
            relay.tick(now, self._paused)
        filler_down = self._filler is None or not self._filler.alive
        if self._paused and filler_down and now - self._filler_since >= FILLER_RETRY_S:
            self._start_filler()  # a filler that died (it should not) starts again
        self._publish()

    def views(self) -> list[dict[str, Any]]:
        return [relay.view() for relay in self.relays]

    # ---- internals -------------------------------------------------------------------

    def _watch(self) -> None:
        while not self._done.wait(TICK_S):
            try:
                self.tick()
            except Exception:
                log.exception("live outputs: watch failed; the recording goes on")

    def _publish(self) -> None:
        views = self.views()
        if views == self._reported:
            return
        self._reported = views
        try:
            self._report(views)
        except Exception as exc:  # a figure: the recording goes on without it
            log.warning("live outputs: could not report: %s", exc)

    def _start_filler(self) -> None:
        if self._filler is not None:
            self._filler.close()
        self._filler_since = self._clock()
        argv = self._filler_argv(self.ports)
        try:
            self._filler = self._launch("live-pause-filler", argv)
        except OSError as exc:
            self._filler = None
            log.warning("live outputs: the pause filler did not start: %s", exc)

    def _stop_filler(self) -> None:
        filler, self._filler = self._filler, None
        if filler is not None:
            filler.stop(grace_s=2.0)
            filler.close()

    def _drain(self) -> None:
        """Until no relay's output grows any more (the capture's tail is sent), at most
        DRAIN_S."""
        deadline = self._clock() + DRAIN_S
        last = [relay.sent_s() for relay in self.relays]
        while self._clock() < deadline:
            time.sleep(DRAIN_LOOK_S)
            now = [relay.sent_s() for relay in self.relays]
            if now == last:
                return
            last = now


def live_outputs(
    urls: Sequence[str],
    frame: Frame,
    pause_frame: str,
    work_dir: Path,
    *,
    settings: Any,
    report: Callable[[list[dict[str, Any]]], None],
) -> LiveOutputs:
    """The task's live outputs, started: one relay per URL on a free loopback port."""
    work_dir.mkdir(parents=True, exist_ok=True)
    options: dict[str, Any] = {"ffmpeg_cmd": settings.ffmpeg, "allowlist": settings.url_allowlist}
    relays = [
        Relay(index, url, free_udp_port(), work_dir, **options) for index, url in enumerate(urls)
    ]
    seconds = settings.segment_seconds

    def filler(ports: list[int]) -> list[str]:
        encoder = builders.Encoder.of(settings)
        return [
            settings.ffmpeg,
            *builders.pause_filler(frame, pause_frame, ports, seconds, encoder),
        ]

    return LiveOutputs(relays, filler, report).start()
