"""ffmpeg publishing a test pattern and a tone as a room user (H.264/AAC over RTMP)."""

from __future__ import annotations

from pathlib import Path

from deploy.local.process import Child
from deploy.local.stack import Command, Ready

FPS = 25
GOP_S = 2.0  # a keyframe every 2 s: a recorder joining late starts up to this much later

# The flash-and-beep pattern: the picture turns white and a 1 kHz beep sounds over exactly
# the same FLASH_S, FLASH_AT_S into every FLASH_EVERY_S of the publisher's own clock (its
# keyframes, every 2 s, fall between flashes). Both start on a frame and on a sample: their
# offset is 0 by construction (tests/integration/test_recorder_sync.py checks it in a file).
FLASH_EVERY_S = 2.0
FLASH_AT_S = 1.0
FLASH_S = 0.2
# The same gate for both sources. lavfi's t is n * (1/rate), a few ulps off the exact
# second: a one-microsecond margin (under one audio sample) keeps the onset on frame and
# sample n instead of sometimes one later.
_GATE = (
    f"gte(mod(t,{FLASH_EVERY_S:g}),{FLASH_AT_S - 1e-6:.6f})"
    f"*lt(mod(t,{FLASH_EVERY_S:g}),{FLASH_AT_S + FLASH_S - 1e-6:.6f})"
)


def lavfi_sources(size: str, tone_hz: int, *, flashbeep: bool = False) -> tuple[str, str]:
    """(video, audio) lavfi graphs: testsrc2 + a steady tone, or black flashing white + beeps."""
    if not flashbeep:
        return f"testsrc2=size={size}:rate={FPS}", f"sine=frequency={tone_hz}:sample_rate=48000"
    video = f"color=c=black:size={size}:rate={FPS},drawbox=c=white:t=fill:enable='{_GATE}'"
    audio = f"aevalsrc='0.5*sin(2*PI*{tone_hz}*t)*{_GATE}':s=48000"
    return video, audio


def lavfi_publish_argv(
    url: str,
    seconds: float | None = None,
    size: str = "640x360",
    tone_hz: int = 1000,
    *,
    flashbeep: bool = False,
) -> list[str]:
    """testsrc2 + sine (or the flash-and-beep pattern), in real time (-re), ~1 Mbps H.264
    and AAC, as FLV to url (which may also be a file: ``-f flv`` is forced)."""
    video, audio = lavfi_sources(size, tone_hz, flashbeep=flashbeep)
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning",
            "-re", "-f", "lavfi", "-i", video, "-re", "-f", "lavfi", "-i", audio]  # fmt: skip
    if seconds is not None:
        argv += ["-t", f"{seconds}"]
    argv += ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
             "-pix_fmt", "yuv420p", "-g", str(int(FPS * GOP_S)),
             "-b:v", "1M", "-maxrate", "1M", "-bufsize", "2M",
             "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2",
             "-f", "flv", url]  # fmt: skip
    return argv


class Publisher:
    """A running publisher; stop() ends it (idempotent), finished() tells if it ended itself."""

    def __init__(self, url: str, argv: list[str], log: Path) -> None:
        self.url = url
        # Nothing to probe from outside: ready as soon as it runs (see RtmpServer.wait_published).
        self.child = Child(Command("publisher", argv, Ready("tcp", "127.0.0.1:1")), log).start()

    def finished(self) -> bool:
        return not self.child.alive()

    def wait(self, timeout: float) -> int | None:
        self.child.wait(timeout)
        return self.child.returncode()

    def tail(self) -> list[str]:
        return self.child.tail()

    def stop(self) -> None:
        self.child.stop(grace=5)
