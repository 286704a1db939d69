"""One task's X display (Xvfb) and its audio sink (a private PulseAudio daemon)."""

from __future__ import annotations

import re
import shutil
import socket
import tempfile
from pathlib import Path

from workers.common.media.process import ManagedProcess
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
    """PulseAudio with one null sink kept rendering in 10 ms blocks (builders.sink_listener);
    ``.server`` is what clients put in PULSE_SERVER."""

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
        self.listener = ManagedProcess(
            "sink-listener", builders.sink_listener(self.server), env=builders.pulse_env(home)
        )

    @property
    def server(self) -> str:
        return f"unix:{self.socket}"

    def start(self, timeout_s: float = 10.0) -> AudioSink:
        self.proc.start()
        self.proc.wait_ready(self._accepting, timeout_s=timeout_s)
        self.listener.start()
        return self

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
        self.listener.close()
        self.proc.close()
        shutil.rmtree(self.home, ignore_errors=True)
