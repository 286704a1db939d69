"""One task's X display (Xvfb) and its audio sink (a private PulseAudio daemon)."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from workers.common.media.process import ManagedProcess, ProcessFailed
from workers.panorama import builders
from workers.panorama.builders import Frame

_DISPLAY_NUMBER = re.compile(r"^\d+$")


class Display:
    """Xvfb on a free display number; ``.name`` is ":N" once started."""

    def __init__(self, frame: Frame) -> None:
        self.frame = frame
        self.proc = ManagedProcess("xvfb", builders.xvfb(frame))
        self.name = ""

    def start(self, timeout_s: float = 10.0) -> Display:
        self.proc.start()
        self.proc.wait_ready(self._numbered, timeout_s=timeout_s)
        return self

    def _numbered(self) -> bool:
        for line in self.proc.tail():
            if _DISPLAY_NUMBER.match(line.strip()):
                self.name = f":{line.strip()}"
                return True
        return False

    @property
    def alive(self) -> bool:
        return self.proc.alive

    def close(self) -> None:
        self.proc.close()


class AudioSink:
    """PulseAudio with one null sink kept rendering in 10 ms blocks by a reader of the
    sink's monitor at all times (builders.sink_listener); ``.server`` is what clients put
    in PULSE_SERVER.

    While a capture runs, it is that reader: it reads in the same 10 ms blocks
    (builders.PULSE_FRAGMENT_BYTES), so the listener hands over to it and takes back before
    it ends. Both at once cost about 0.01 core more (the listener's wakeups and
    PulseAudio's second stream: bench.panorama --only density), a thirtieth of a recording.
    """

    def __init__(self) -> None:
        # A short absolute path: a unix socket path must fit in 108 bytes, which a task's
        # work directory (data_dir/work/<uuid>/...) may not.
        home = Path(tempfile.mkdtemp(prefix="capstan-pulse-"))
        self.home = home
        self.socket = home / "native"
        self.proc = ManagedProcess(
            "pulseaudio",
            builders.pulseaudio(self.socket),
            env=builders.pulse_env(home),
        )
        self.listener: ManagedProcess | None = None

    @property
    def server(self) -> str:
        return f"unix:{self.socket}"

    def start(self, timeout_s: float = 10.0) -> AudioSink:
        self.proc.start()
        self.proc.wait_ready(self._accepting, timeout_s=timeout_s)
        self.listen(timeout_s)
        return self

    def listen(self, timeout_s: float = 5.0) -> None:
        """Start the listener; return once PulseAudio has its stream (a capture that ends
        before then could leave the sink without a reader, back to 2 s blocks)."""
        if self.listener is not None:
            return
        self.listener = ManagedProcess(
            "sink-listener", builders.sink_listener(self.server), env=builders.pulse_env(self.home)
        ).start()
        try:
            self.listener.wait_ready(self._listened, timeout_s=timeout_s, interval_s=0.01)
        except ProcessFailed:
            self.hand_over()  # so that a later listen() tries again
            raise

    def hand_over(self) -> None:
        """A capture reads the monitor now: the listener goes until ``listen()``."""
        if self.listener is not None:
            self.listener.close()
            self.listener = None

    def _listened(self) -> bool:
        try:
            listing = subprocess.run(
                builders.sink_readers(self.server),
                env=builders.pulse_env(self.home),
                capture_output=True,
                text=True,
                timeout=2,
                check=False,
            ).stdout
        except subprocess.TimeoutExpired:
            return False
        return f'media.name = "{builders.LISTENER_STREAM}"' in listing

    def _accepting(self) -> bool:
        if not self.socket.exists():
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(self.socket))
            except OSError:
                return False
        return True

    @property
    def alive(self) -> bool:
        return self.proc.alive

    def close(self) -> None:
        self.hand_over()
        self.proc.close()
        shutil.rmtree(self.home, ignore_errors=True)
