"""ffmpeg publishing a test pattern and a tone as a room user (H.264/AAC over RTMP)."""

from __future__ import annotations

from pathlib import Path

from deploy.local.process import Child
from deploy.local.stack import Command, Ready


def lavfi_publish_argv(
    url: str, seconds: float | None = None, size: str = "640x360", tone_hz: int = 1000
) -> list[str]:
    """testsrc2 + sine, in real time (-re), ~1 Mbps H.264 and AAC, as FLV to url."""
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning",
            "-re", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25",
            "-re", "-f", "lavfi", "-i", f"sine=frequency={tone_hz}:sample_rate=48000"]  # fmt: skip
    if seconds is not None:
        argv += ["-t", f"{seconds}"]
    argv += ["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
             "-pix_fmt", "yuv420p", "-g", "50", "-b:v", "1M", "-maxrate", "1M", "-bufsize", "2M",
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
