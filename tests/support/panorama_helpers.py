"""The panorama tests as a user sees them: test pages served from localhost, the API.

The test pages (tests/pages/colour.html) show a known colour and a frame counter and
play a known tone; query parameters pick them (see the page's header).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests.support.api import ServiceApi

PAGES = Path(__file__).resolve().parents[1] / "pages"

# Resume answers at once ("recording"); the capture records again ~1.1 s later (ffmpeg's
# start and its 1 s warm-up, workers/panorama/builders.WARMUP_S): that much is not in the file.
RESUME_S = 1.5
RED = (255, 0, 0)
BLUE = (0, 0, 255)
GREEN = (0, 255, 0)


def page_url(base: str, **params: Any) -> str:
    """The colour page with its parameters: bg="ff0000", tone=440, start=ms, stop=ms..."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{base.rstrip('/')}/colour.html" + (f"?{query}" if query else "")


def close_to(rgb: tuple[float, float, float], want: tuple[int, int, int], tol: float = 40) -> bool:
    """A frame's average colour is the page's colour (the counter's few pixels aside)."""
    return all(abs(a - b) <= tol for a, b in zip(rgb, want, strict=True))


class PanoramaApi(ServiceApi):
    """/v1/panorama through the dispatcher (a Flask test client)."""

    service = "panorama"
    default_timeout = 40.0

    def start(self, **data: Any) -> str:  # type: ignore[override]
        return super().start({"Action": "Start", "Data": data})

    def recorded_s(self, task_id: str) -> float:
        return float(self.describe(task_id).get("Progress", {}).get("RecordedSeconds", 0))


def chromium_pids(task_id: str) -> list[int]:
    """The task's Chromium browser process(es): their command line names its profile."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(
            b"--user-data-dir=" in arg and task_id.encode() in arg for arg in cmdline
        ) and not any(arg.startswith(b"--type=") for arg in cmdline):
            found.append(int(entry.name))
    return found


def kill(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def region_rgb(
    path: str | Path, t: float, x: int, y: int, w: int, h: int
) -> tuple[float, float, float]:
    """Average (R, G, B) of a rectangle of the frame at t seconds (edges: no scrollbar)."""
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-ss", f"{t}",
            "-i", str(path), "-frames:v", "1", "-vf", f"crop={w}:{h}:{x}:{y}",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]  # fmt: skip
    data = subprocess.run(argv, capture_output=True, check=True, timeout=60).stdout
    pixels = len(data) // 3
    assert pixels, f"no frame at {t}s in {path}"
    r, g, b = (sum(data[i::3]) / pixels for i in range(3))
    return (r, g, b)


def is_plain_mpegts(segment: Path) -> bool:
    """An unencrypted MPEG-TS file has its sync byte every 188 bytes."""
    data = segment.read_bytes()[: 188 * 4]
    return len(data) >= 188 * 4 and all(data[i] == 0x47 for i in range(0, len(data), 188))


def decrypt_hls(playlist: Path, key_hex: str, out: Path) -> Path:
    """Play the HLS back as a player would, with the key it fetched from AuthUrl: the
    playlist's key URI is pointed at a local key file, and ffmpeg remuxes it to MP4."""
    key_file = playlist.parent / "playback.key"
    key_file.write_bytes(bytes.fromhex(key_hex))
    text = playlist.read_text()
    local = playlist.with_name("playback.m3u8")
    local.write_text(re.sub(r'URI="[^"]*"', f'URI="{key_file}"', text))
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
            "-allowed_extensions", "ALL", "-i", str(local),
            "-c", "copy", "-y", str(out)]  # fmt: skip
    subprocess.run(argv, capture_output=True, check=True, timeout=120)
    return out


class InProcessWorker:
    """run_task in a thread: for cases that need no Celery (the message waits unread)."""

    def __init__(self, task_id: str) -> None:
        from workers.common.runtime.loop import run_task
        from workers.panorama.session import PanoramaSession

        self.outcome: list[str] = []
        self.thread = threading.Thread(
            target=lambda: self.outcome.append(run_task(task_id, PanoramaSession)), daemon=True
        )
        self.thread.start()

    def join(self, timeout: float = 90) -> str:
        self.thread.join(timeout)
        assert self.outcome, "the task did not end"
        return self.outcome[0]
