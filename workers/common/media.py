"""Reading media facts with ffprobe (duration, streams)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from config.settings import get_settings


@dataclass(frozen=True)
class MediaInfo:
    duration_s: float
    streams: tuple[str, ...]  # codec types, e.g. ("video", "audio")


def probe(path: Path | str, timeout_s: float = 30.0) -> MediaInfo:
    argv = [
        get_settings().ffprobe, "-v", "error", "-print_format", "json",
        "-show_format", "-show_streams", str(path),
    ]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, timeout=timeout_s, check=True).stdout
    data = json.loads(out)
    duration = float(data.get("format", {}).get("duration") or 0.0)
    streams = tuple(s.get("codec_type", "") for s in data.get("streams", []))
    return MediaInfo(duration, streams)
