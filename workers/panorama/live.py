"""Live outputs: the recording streamed to RTMP/RTMPS/SRT URLs while it is made (issue 16).

    capture ffmpeg ──(its encoded packets, MPEG-TS over loopback UDP)──▶ relay ─▶ URL 1
                   └─▶ segments (the file)                         └──▶ relay ─▶ URL 2
    pause filler (only while paused: black or a slate) ──────────────▶ the same ports

No second encode: the capture's tee muxer sends the packets it writes to the segments to
one UDP port per output (builders.capture), and a relay per URL copies them on
(builders.relay). A relay that fails is restarted with the farm's backoff, never touching
the capture: the file does not notice. During a Pause no capture runs; a filler encodes
still frames to the same ports, so the relays stay connected and players do not drop.

``LiveOutputs`` drives the relays from a thread of its own (the runtime does not poll a
paused session) and reports them in Progress.LiveOutputs with their URLs redacted: the
stream key is the user's credential and reaches no log line, message or Describe.
"""

from __future__ import annotations

import enum
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from workers.common.domain import urlpolicy
from workers.common.domain.rooms import HIDDEN
from workers.common.media.process import ManagedProcess
from workers.common.pacing.backoff import Backoff, RetryPolicy
from workers.panorama import builders
from workers.panorama.builders import Frame
from workers.panorama.capture import read_progress

log = logging.getLogger(__name__)

# A relay that cannot connect is tried again after 1 s, 2 s, 4 s ... up to 30 s, for as
# long as the recording lasts (a platform that restarts comes back).
RETRY = RetryPolicy(window_s=None, first_backoff_s=1.0, max_backoff_s=30.0, jitter=0.2)
# A relay that sent nothing this long while media was fed to it is stuck: restarted.
STALL_S = 15.0
TICK_S = 0.5  # how often the relays are looked at
FILLER_RETRY_S = 5.0  # a pause filler that died is started again this long after the last
DRAIN_S = 4.0  # at Stop: how long the relays may take to send the file's last packets
DRAIN_LOOK_S = 1.1  # a relay writes its figures every 0.5 s: unchanged over this, it is idle


class State(enum.StrEnum):
    CONNECTING = "connecting"  # started, nothing sent yet
    LIVE = "live"  # sending the recording
    PAUSED = "paused"  # connected, sending the pause frame
    RETRYING = "retrying"  # failed, waiting for its next attempt
    FAILED = "failed"  # refused by the URL policy: not tried again
    ENDED = "ended"  # stopped with the recording


class Process(Protocol):
    """What a relay needs of a child process (ManagedProcess; a fake in the unit tests)."""

    @property
    def alive(self) -> bool: ...

    @property
    def returncode(self) -> int | None: ...

    def tail(self, count: int | None = None) -> list[str]: ...

    def stop(self, *, grace_s: float = 5.0, quit_key: bool = False) -> int | None: ...

    def signal(self, signum: int, *, group: bool = True) -> None: ...

    def wait(self, timeout_s: float) -> bool: ...

    def close(self) -> None: ...


Launch = Callable[[str, list[str]], Process]


def launch(name: str, argv: list[str]) -> Process:
    return ManagedProcess(name, argv).start()


def redact(url: str) -> str:
    """The URL without its credentials: scheme, host, port and the RTMP application are
    kept (what tells outputs apart), the stream key, query and user info are not."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    app, _, key = parts.path.lstrip("/").partition("/")
    path = f"/{app}" if app else ""
    path += f"/{HIDDEN}" if key else ""
    query = f"?{HIDDEN}" if parts.query else ""
    return f"{parts.scheme}://{netloc}{path}{query}"


def hide(text: str, url: str) -> str:
    """``text`` (ffmpeg's words) with the URL and each secret part of it hidden."""
    parts = urlsplit(url)
    text = text.replace(url, redact(url))
    secrets = [parts.path.lstrip("/").partition("/")[2], parts.query, parts.password or ""]
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Relay:
    """One live output: its relay process, restarted with backoff while the task records."""

    def __init__(
        self,
        index: int,
        url: str,
        port: int,
        work_dir: Path,
        *,
        ffmpeg_cmd: str,
        allowlist: Sequence[str],
        launch: Launch = launch,
        backoff: Backoff | None = None,
    ) -> None:
        self.index, self.url, self.port = index, url, port
        self.progress = work_dir / f"live{index}.progress"
        self._ffmpeg, self._allowlist, self._launch = ffmpeg_cmd, tuple(allowlist), launch
        self._backoff = backoff or Backoff.of(RETRY)
        self.state = State.CONNECTING
        self.attempts = 0
        self.last_error = ""
        self._proc: Process | None = None
        self._retry_at = 0.0
        self._sent_s = -1.0  # the relay's out_time when it last grew
        self._sent_at = 0.0  # when that was (monotonic)

    def view(self) -> dict[str, Any]:
        """Its item of Progress.LiveOutputs (no secret in it)."""
        item: dict[str, Any] = {
            "Url": redact(self.url),
            "State": str(self.state),
            "Attempts": self.attempts,
        }
        if self.last_error:
            item["LastError"] = self.last_error
        return item

    def tick(self, now: float, paused: bool) -> None:
        """One look: start what is due, notice what failed, tell live from connecting."""
        if self.state in (State.FAILED, State.ENDED):
            return
        if self._proc is None:
            if now >= self._retry_at:
                self._start(now)
            return
        if not self._proc.alive:
            self._failed(now, self._why(f"exited (code {self._proc.returncode})"))
            return
        sent = read_progress(self.progress).out_time_s
        if sent > self._sent_s:
            self._sent_s, self._sent_at = sent, now
            if sent > 0:
                self._backoff.reset()
                self.state = State.PAUSED if paused else State.LIVE
        elif now - self._sent_at > STALL_S:
            self._failed(now, f"sent nothing for {STALL_S:.0f}s")
            return
        if self.state in (State.LIVE, State.PAUSED):
            self.state = State.PAUSED if paused else State.LIVE

    def stop(self) -> None:
        """At Stop, once the relay has sent the last packets: it ends its connection.

        Waiting on a UDP input that no longer receives, ffmpeg sees neither 'q' nor a
        first SIGINT (both are looked at between packets); a second signal interrupts
        the wait, and it closes its output at once (measured: 0.5 s, ffmpeg 5.1)."""
        self.state = State.ENDED
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.signal(signal.SIGINT)
        if not proc.wait(0.3):
            proc.signal(signal.SIGINT)
        proc.stop(grace_s=2.0)
        proc.close()

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.close()

    def sent_s(self) -> float:
        return read_progress(self.progress).out_time_s

    # ---- internals -------------------------------------------------------------------

    def _start(self, now: float) -> None:
        why = self._refused()
        if why is not None:
            self.state, self.last_error = State.FAILED, why
            log.warning("live output %d (%s) %s", self.index, redact(self.url), why)
            return
        self.attempts += 1
        self.progress.unlink(missing_ok=True)
        argv = [self._ffmpeg, *builders.relay(self.port, self.url, self.progress)]
        try:
            self._proc = self._launch(f"live-relay-{self.index}", argv)
        except OSError as exc:
            self._failed(now, f"could not start ffmpeg: {exc}")
            return
        self.state = State.CONNECTING
        self._sent_s, self._sent_at = -1.0, now

    def _refused(self) -> str | None:
        """Why the URL policy refuses the URL now (checked at every connect: DNS answers
        change), or None. A name that does not resolve is tried again, not refused."""
        host = urlsplit(self.url).hostname or ""
        try:
            addresses = urlpolicy.resolve(host)
        except urlpolicy.UrlRefused:
            return None  # ffmpeg says "failed to resolve", and the relay is tried again
        why = urlpolicy.refusal(addresses, self._allowlist)
        return f"refused by the URL policy: {why}" if why else None

    def _failed(self, now: float, why: str) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.close()
        delay = self._backoff.next()
        self.state, self.last_error = State.RETRYING, hide(why, self.url)
        self._retry_at = now + delay
        log.warning(
            "live output %d (%s) failed, next attempt in %.1fs: %s",
            self.index, redact(self.url), delay, self.last_error,
        )  # fmt: skip

    def _why(self, what: str) -> str:
        assert self._proc is not None
        lines = [line.strip() for line in self._proc.tail() if line.strip()]
        return f"{what}: {lines[-1]}" if lines else what


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
        return [settings.ffmpeg, *builders.pause_filler(frame, pause_frame, ports, seconds)]

    return LiveOutputs(relays, filler, report).start()
