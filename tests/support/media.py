"""Checking media files by their content: ffprobe facts, a tone's level, a frame's colour."""

from __future__ import annotations

import json
import re
import struct
import subprocess
from pathlib import Path
from typing import Any

_MEAN_VOLUME = re.compile(r"mean_volume:\s*(-?[\d.]+|-inf) dB")


def _run(argv: list[str], timeout: float = 60.0) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-5:]
        raise AssertionError(f"{argv[0]} failed ({done.returncode}): {' | '.join(tail)}")
    return done


def probe(path: str | Path, timeout: float = 30.0) -> dict[str, Any]:
    """{"duration": s, "format_name": "mov,mp4,...", "streams": [{codec_type, codec_name, ...}]}."""
    done = _run(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json",
                 str(path)], timeout)  # fmt: skip
    raw = json.loads(done.stdout)
    fmt = raw.get("format", {})
    keys = ("codec_type", "codec_name", "width", "height", "sample_rate", "channels")
    streams = [{key: stream.get(key) for key in keys} for stream in raw.get("streams", [])]
    for stream in streams:
        if stream["sample_rate"] is not None:
            stream["sample_rate"] = int(stream["sample_rate"])
    duration = fmt.get("duration")
    return {
        "duration": float(duration) if duration not in (None, "N/A") else None,
        "format_name": fmt.get("format_name"),
        "size": int(fmt.get("size", 0) or 0),
        "streams": streams,
        "raw": raw,
    }


def codecs(path: str | Path) -> dict[str, str]:
    """{"video": "h264", "audio": "aac"} (the first stream of each type)."""
    found: dict[str, str] = {}
    for stream in probe(path)["streams"]:
        found.setdefault(stream["codec_type"], stream["codec_name"])
    return found


def tone_level(path: str | Path, hz: float, width_hz: float = 100.0) -> float:
    """Mean volume (dB) of the audio in a narrow band around hz; about -91 for silence.

    One biquad band-pass lets a loud tone through from a neighbouring band (a 1200 Hz tone
    measured at 440 Hz is only 20 dB down), so three in a row: 60 dB, and 0 dB at hz."""
    band = ",".join([f"bandpass=f={hz}:width_type=h:w={width_hz}"] * 3)
    done = _run(["ffmpeg", "-hide_banner", "-nostdin", "-i", str(path), "-vn",
                 "-af", f"{band},volumedetect", "-f", "null", "-"])  # fmt: skip
    match = _MEAN_VOLUME.search(done.stderr.decode(errors="replace"))
    if match is None:
        raise AssertionError(f"no audio level in {path}")
    return float("-inf") if match.group(1) == "-inf" else float(match.group(1))


def frame_rgb(path: str | Path, t: float) -> tuple[float, float, float]:
    """Average (R, G, B) of the frame at t seconds, 0-255."""
    done = _run(["ffmpeg", "-hide_banner", "-nostdin", "-ss", f"{t}", "-i", str(path),
                 "-frames:v", "1", "-vf", "scale=64:64", "-f", "rawvideo", "-pix_fmt", "rgb24",
                 "-"])  # fmt: skip
    data = done.stdout
    pixels = len(data) // 3
    if not pixels:
        raise AssertionError(f"no frame at {t}s in {path}")
    r, g, b = (sum(data[i::3]) / pixels for i in range(3))
    return (r, g, b)


def top_level_boxes(path: str | Path) -> list[str]:
    """The MP4 top-level box types in file order ("ftyp", "moov", "mdat", ...)."""
    boxes: list[str] = []
    with open(path, "rb") as mp4:
        while header := mp4.read(8):
            if len(header) < 8:
                break
            size, kind = struct.unpack(">I4s", header)
            boxes.append(kind.decode("latin-1"))
            if size == 1:
                size = struct.unpack(">Q", mp4.read(8))[0] - 8
            elif size == 0:
                break
            mp4.seek(size - 8, 1)
    return boxes


def moov_before_mdat(path: str | Path) -> bool:
    """True for a faststart MP4 (the index comes before the media data)."""
    boxes = top_level_boxes(path)
    return "moov" in boxes and "mdat" in boxes and boxes.index("moov") < boxes.index("mdat")


def stream_spans(path: str | Path) -> dict[str, float]:
    """How long each kind of stream plays ({"video": s, "audio": s}): from its first
    packet's time to its last packet's end, packet by packet (a playlist through its parts;
    a container's own duration is not comparable: HLS counts the video, MP4 the longest)."""
    entries = "packet=codec_type,pts_time,duration_time"
    done = _run(["ffprobe", "-v", "error", "-show_entries", entries, "-of", "csv=p=0", str(path)])
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for line in done.stdout.decode().split():
        kind, pts, duration = [*line.split(","), "", "", ""][:3]
        if pts in ("", "N/A"):
            continue
        start = float(pts)
        end = start + (float(duration) if duration not in ("", "N/A") else 0.0)
        first[kind] = min(first.get(kind, start), start)
        last[kind] = max(last.get(kind, end), end)
    return {kind: round(last[kind] - first[kind], 3) for kind in first}


def assert_same_spans(one: str | Path, other: str | Path, tolerance_s: float = 0.04) -> None:
    """The picture and the sound each play as long in both (e.g. the same packets in two
    containers), within a frame: an MP4 may shorten its last frame's duration."""
    spans, other_spans = stream_spans(one), stream_spans(other)
    assert spans.keys() == other_spans.keys() == {"video", "audio"}, (spans, other_spans)
    for kind, seconds in spans.items():
        assert abs(seconds - other_spans[kind]) < tolerance_s, (kind, spans, other_spans)
