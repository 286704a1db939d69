"""The bare pipeline, the yardstick of issue 17's density figures: Xvfb + PulseAudio +
Chromium showing the page (started directly: no Playwright, no page proxy, no farm) and one
ffmpeg grabbing the display and the sink into one MP4 with x264 veryfast.

Its command lines are frozen here as they were when the issue was filed, so that the
yardstick does not move when the farm's own builders change. A ``Variant`` changes one
thing of it (a Chromium flag, the X screen's depth, the grab's colour conversion, the
encoder): a lever, measured against the frozen baseline in the same run.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from workers.common.media.process import ManagedProcess
from workers.panorama import builders
from workers.panorama.browser import write_profile
from workers.panorama.builders import GRAB_RATE, Frame

# The farm's Chromium flags when issue 17 was filed, less the page proxy.
BARE_CHROMIUM = (
    "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader", "--disable-quic",
    "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    "--disable-features=MediaRouter,InfiniteSessionRestore", "--disable-infobars",
    "--disable-session-crashed-bubble", "--disable-dev-shm-usage", "--password-store=basic",
    "--kiosk", "--window-position=0,0", "--autoplay-policy=no-user-gesture-required",
    "--hide-scrollbars",
)  # fmt: skip
# The farm's encoder when issue 17 was filed: x264 veryfast, zerolatency, CRF 23; AAC.
BARE_VIDEO = (
    "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-crf", "23",
    "-pix_fmt", "yuv420p", "-g", "120",
)  # fmt: skip
BARE_AUDIO = ("-c:a", "aac", "-b:a", "128k", "-ar", "48000")
_DISPLAY_NUMBER = re.compile(r"^\d+$")


@dataclass(frozen=True)
class Variant:
    """One change to the bare pipeline (the defaults are the baseline)."""

    name: str = "bare"
    depth: int = 24  # the X screen's depth
    chromium: tuple[str, ...] = ()  # flags added to BARE_CHROMIUM
    video: tuple[str, ...] = BARE_VIDEO  # the encoder
    before_encode: tuple[str, ...] = ()  # e.g. -sws_flags for the colour conversion
    nice_chromium: int = 0
    energy_saver: bool = False  # Chromium's profile as the farm writes it (30 frames a second)

    @property
    def stack(self) -> tuple[int, tuple[str, ...], int, bool]:
        """What needs a stack of its own (the rest only changes ffmpeg)."""
        return self.depth, self.chromium, self.nice_chromium, self.energy_saver


class BareStack:
    """Xvfb, PulseAudio and Chromium on ``url``, each started directly."""

    def __init__(self, url: str, frame: Frame, variant: Variant = Variant()) -> None:
        self.url, self.frame, self.variant = url, frame, variant
        self.home = Path(tempfile.mkdtemp(prefix="capstan-bare-"))
        self.display = ""
        self.procs: list[ManagedProcess] = []

    @property
    def pulse_server(self) -> str:
        return f"unix:{self.home / 'native'}"

    def start(self) -> BareStack:
        width, height = self.frame.screen
        xvfb = ManagedProcess("xvfb", ["Xvfb", "-displayfd", "2", "-screen", "0",
                                       f"{width}x{height}x{self.variant.depth}", "-nolisten",
                                       "tcp", "-nocursor", "-noreset"])  # fmt: skip
        self.procs.append(xvfb.start())
        xvfb.wait_ready(lambda: self._numbered(xvfb), timeout_s=10)
        env = builders.pulse_env(self.home)
        pulse = ManagedProcess("pulseaudio", builders.pulseaudio(self.home / "native"), env=env)
        self.procs.append(pulse.start())
        pulse.wait_ready((self.home / "native").exists, timeout_s=10)
        time.sleep(0.3)
        chromium_env = {**env, "DISPLAY": self.display, "PULSE_SERVER": self.pulse_server}
        if self.variant.energy_saver:
            write_profile(self.home / "profile")
        nice = ["nice", "-n", str(self.variant.nice_chromium)] if self.variant.nice_chromium else []
        argv = [*nice, "/usr/bin/chromium", *BARE_CHROMIUM, *self.variant.chromium,
                f"--window-size={self.frame.width},{self.frame.height}",
                f"--user-data-dir={self.home / 'profile'}", self.url]  # fmt: skip
        self.procs.append(ManagedProcess("chromium", argv, env=chromium_env).start())
        return self

    def _numbered(self, xvfb: ManagedProcess) -> bool:
        for line in xvfb.tail():
            if _DISPLAY_NUMBER.match(line.strip()):
                self.display = f":{line.strip()}"
                return True
        return False

    def grab(self, out: Path, variant: Variant, *, seconds: float | None = None) -> list[str]:
        """ffmpeg: the display and the sink into ``out`` (MP4), with ``variant``'s encoder."""
        return [
            "ffmpeg", "-hide_banner", "-nostats", "-loglevel", "error",
            "-progress", str(out.with_suffix(".progress")), "-stats_period", "0.5",
            "-f", "x11grab", "-thread_queue_size", "32", "-draw_mouse", "0",
            "-framerate", GRAB_RATE, "-video_size", f"{self.frame.width}x{self.frame.height}",
            "-i", f"{self.display}.0+0,0",
            "-f", "pulse", "-thread_queue_size", "1024", "-server", self.pulse_server,
            "-sample_rate", "48000", "-channels", "2", "-i", f"{builders.SINK}.monitor",
            *variant.before_encode, *variant.video, "-r", GRAB_RATE, *BARE_AUDIO,
            *(["-t", str(seconds)] if seconds else []), "-y", str(out),
        ]  # fmt: skip

    def inputs(self, *, audio: bool = False) -> list[str]:
        """ffmpeg's input: the display as the farm grabs it, or the sink's monitor."""
        if audio:
            return ["-f", "pulse", "-server", self.pulse_server, "-sample_rate", "48000",
                    "-channels", "2", "-i", f"{builders.SINK}.monitor"]  # fmt: skip
        return ["-f", "x11grab", "-draw_mouse", "0", "-framerate", GRAB_RATE,
                "-video_size", f"{self.frame.width}x{self.frame.height}",
                "-i", f"{self.display}.0+0,0"]  # fmt: skip

    def lossless(self, out: Path, seconds: float) -> list[str]:
        """ffmpeg: the display, losslessly (RGB as grabbed), the yardstick of quality; NUT
        at exactly 30 fps, so that every encoding of it has the same frames."""
        return [
            "ffmpeg", "-hide_banner", "-nostats", "-loglevel", "error",
            "-f", "x11grab", "-thread_queue_size", "64", "-draw_mouse", "0",
            "-framerate", GRAB_RATE, "-video_size", f"{self.frame.width}x{self.frame.height}",
            "-i", f"{self.display}.0+0,0", "-t", str(seconds), "-r", "30",
            "-c:v", "libx264rgb", "-qp", "0", "-preset", "ultrafast", "-pix_fmt", "bgr0",
            "-y", str(out),
        ]  # fmt: skip

    def close(self) -> None:
        for proc in reversed(self.procs):
            proc.close()
        self.procs.clear()
        shutil.rmtree(self.home, ignore_errors=True)
