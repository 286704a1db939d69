"""One live output's relay: ffmpeg copying the capture's packets from a loopback UDP port
to the user's URL, restarted with backoff when it fails (workers/panorama/live.py runs them).

Its URL holds the stream key, the user's credential: what it shows (Describe's item, log
lines, the last error) goes through ``redact``/``hide``.
"""

from __future__ import annotations

import enum
import logging
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from workers.common.domain import redaction, urlpolicy
from workers.common.domain.redaction import HIDDEN
from workers.common.media.process import ManagedProcess
from workers.common.pacing.backoff import Backoff, RetryPolicy
from workers.panorama import builders
from workers.panorama.capture import read_progress

log = logging.getLogger(__name__)

# A relay that cannot connect is tried again after 1 s, 2 s, 4 s ... up to 30 s, for as
# long as the recording lasts (a platform that restarts comes back).
RETRY = RetryPolicy(window_s=None, first_backoff_s=1.0, max_backoff_s=30.0, jitter=0.2)
# A relay that sent nothing this long while media was fed to it is stuck: restarted.
STALL_S = 15.0
# A new relay first reads the stream until it knows it (a keyframe: up to a segment's
# length), then connects: on a loaded machine that took 18 s (measured). Give it longer.
CONNECT_S = 40.0


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


Launch = Callable[..., Process]  # (name, argv[, secrets])


def launch(name: str, argv: list[str], secrets: Sequence[str] = ()) -> Process:
    return ManagedProcess(name, argv, secrets=secrets).start()


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
    return redaction.hide(text.replace(url, redact(url)), secret_parts(url))


def secret_parts(url: str) -> list[str]:
    """The credentials in a live URL: the stream key, the query, a password."""
    parts = urlsplit(url)
    secrets = [parts.path.lstrip("/").partition("/")[2], parts.query, parts.password or ""]
    return [secret for secret in secrets if secret]


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
        self._sent_s = 0.0  # the relay's out_time when it last grew
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
        limit = STALL_S if self._sent_s > 0 else CONNECT_S
        if sent > self._sent_s:
            self._sent_s, self._sent_at = sent, now
            self._backoff.reset()
            self.state = State.PAUSED if paused else State.LIVE
        elif now - self._sent_at > limit:
            self._failed(now, f"sent nothing for {limit:.0f}s")
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
            self._proc = self._launch(f"live-relay-{self.index}", argv, secret_parts(self.url))
        except OSError as exc:
            self._failed(now, f"could not start ffmpeg: {exc}")
            return
        self.state = State.CONNECTING
        self._sent_s, self._sent_at = 0.0, now

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
