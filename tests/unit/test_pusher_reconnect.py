"""The pusher while its live source is away: it looks again after 1, 1, 2, 4, then every
5 seconds, and ends with SourceLost once the source has been gone for MaxIdleTime. A
fake clock and a stand-in ffprobe that always fails: no stream, no waiting."""

from __future__ import annotations

import stat
from pathlib import Path
from types import SimpleNamespace

from pydantic import SecretStr

from config.settings import Settings
from tests.support.clock import FakeClock
from workers.pusher.session import PusherSession

POLL_S = 0.25


def failing_ffprobe(tmp_path: Path) -> Path:
    """Notes each call in calls.log, then fails as ffprobe does when nothing is there."""
    script = tmp_path / "ffprobe"
    script.write_text(f"#!/bin/sh\necho probe >> {tmp_path / 'calls.log'}\nexit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def probes(tmp_path: Path) -> int:
    log = tmp_path / "calls.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def live_push(tmp_path: Path, clock: FakeClock, max_idle_s: int) -> PusherSession:
    spec = SimpleNamespace(
        videoSrc="rtmp://127.0.0.1:9/live/absent", userSig=SecretStr("sig"),
        sdkAppId=1400000001, roomId="r1", userId="pusher1", redis=False, Loop=0,
        MaxIdleTime=max_idle_s, SeekSecond=0,
    )  # fmt: skip
    ctx = SimpleNamespace(
        spec=spec,
        settings=Settings(ffprobe=str(failing_ffprobe(tmp_path)), url_allowlist=["127.0.0.0/8"]),
        task_id="t-reconnect", report=lambda **figures: None,
    )  # fmt: skip
    return PusherSession(ctx, clock=clock)  # type: ignore[arg-type]


def test_an_absent_live_source_is_looked_for_with_backoff_then_lost(tmp_path):
    clock = FakeClock(now=0)
    push = live_push(tmp_path, clock, max_idle_s=30)
    push.start()  # the first probe fails: the source is not there yet
    assert probes(tmp_path) == 1 and push.run is None
    looked_at = []
    while (end := push.poll()) is None:
        if probes(tmp_path) > len(looked_at) + 1:
            looked_at.append(clock.now)
        clock.advance(POLL_S)
    assert looked_at == [1, 2, 4, 8, 13, 18, 23, 28]
    assert clock.now == 30  # away for MaxIdleTime, to the poll
    assert end.error_code == "SourceLost"
    assert "gone for more than 30s (MaxIdleTime)" in end.error_message
    assert end.error_message.endswith("cannot be read: ffprobe exited with code 1")
