"""The pusher's tests as a user sees them: sources whose frames say where they are, the
pusher API, and a subscriber reading the room.

A *timecode video* shows its own position: the left half's luma is 16 + 6 x (whole
seconds), the right half's is 16 + 20 x (tenths), so any frame a subscriber sees tells
the second (to 0.1 s) of the source it came from, through any codec.
"""

from __future__ import annotations

import statistics
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.api import ServiceApi

SDK_APP_ID = "1400000000"
ROOM_ID = "8848"
USER_SIG = "eJwtzNEKgkAUBNB-2efQ3e3eUqG3tMCKJJEIIxxxx-PUSHER*CZeOk9sHfnEhCwlUW"

_TIMECODE = (
    "color=c=black:s={size}:r=25,"
    "geq=lum='if(lt(X,W/2),16+6*floor(T),16+20*floor(10*(T-floor(T))))':cb=128:cr=128"
)
# Full-range grey steps of one second and one tenth (limited-range luma 6 and 20).
_SECOND_STEP = 6 * 255 / 219
_TENTH_STEP = 20 * 255 / 219

CODECS = {
    # H.264/AAC in MP4: the copy path. A keyframe every second, so copy resumes closely.
    "h264": ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-g", "25",
             "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k"],
    # MPEG-4 Part 2 and MP3: the pusher has to encode both.
    "mpeg4": ["-c:v", "mpeg4", "-q:v", "2", "-g", "25", "-c:a", "libmp3lame", "-b:a", "96k"],
}  # fmt: skip


def timecode_video(out: Path, seconds: float, codec: str = "h264", size: str = "320x180") -> Path:
    """A file of ``seconds`` whose frames carry their time, with a 1 kHz tone."""
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", _TIMECODE.format(size=size),
            "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
            "-t", f"{seconds}", *CODECS[codec], "-ar", "48000", "-ac", "2", str(out)]  # fmt: skip
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    return out


def timecode_of(left: int, right: int) -> float:
    """The source second a frame shows, from its halves' mean grey (0-255)."""
    return round(left / _SECOND_STEP) + round(right / _TENTH_STEP) / 10


@dataclass(frozen=True)
class Frame:
    pts: float  # stream time in the room (the publish starts near 0)
    source_s: float  # what the frame shows: its second in the source
    wall: float  # time.monotonic() when the subscriber got it


def room_frames(url: str, count: int, timeout: float = 30.0) -> list[Frame]:
    """The first ``count`` video frames a subscriber of ``url`` receives (fewer if the
    stream ends), each with its stream time, its timecode and when it arrived."""
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "info", "-copyts",
            "-rw_timeout", "10000000", "-i", url, "-map", "0:v:0", "-frames:v", str(count),
            "-vf", "showinfo,scale=2:1:flags=area", "-fps_mode", "passthrough",
            "-f", "rawvideo", "-pix_fmt", "gray", "-"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pts: list[float] = []
    reader = threading.Thread(target=_showinfo_pts, args=(proc, pts), daemon=True)
    reader.start()
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    arrivals: list[tuple[float, int, int]] = []
    try:
        assert proc.stdout is not None
        while len(arrivals) < count:
            pixel = proc.stdout.read(2)
            if len(pixel) < 2:
                break
            arrivals.append((time.monotonic(), pixel[0], pixel[1]))
        proc.wait(timeout=10)
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=5)
    return [
        Frame(stamp, timecode_of(left, right), wall)
        for stamp, (wall, left, right) in zip(pts, arrivals, strict=False)
    ]


def _showinfo_pts(proc: subprocess.Popen[bytes], found: list[float]) -> None:
    assert proc.stderr is not None
    for raw in proc.stderr:
        line = raw.decode("utf-8", "replace")
        if "Parsed_showinfo" in line and " pts_time:" in line:
            found.append(float(line.split(" pts_time:")[1].split()[0]))


def publish_start(frames: list[Frame]) -> float:
    """Where in the source the publish began: what a frame shows minus its stream time."""
    assert frames, "the subscriber saw no frame"
    return statistics.median(f.source_s - f.pts for f in frames)


def pacing(frames: list[Frame], settle_s: float = 2.5) -> tuple[float, float]:
    """(media seconds, wall seconds) received once the subscriber's start-up burst (it
    buffers while probing the stream) is over: equal when the push is real time."""
    steady = [f for f in frames if f.wall - frames[0].wall >= settle_s]
    assert len(steady) > 25, "the frames all came at once: not a real-time stream"
    return steady[-1].pts - steady[0].pts, steady[-1].wall - steady[0].wall


def pusher_request(video_src: str, user_id: str, **fields: Any) -> dict[str, Any]:
    """The seeds' flat body for pushing ``video_src`` as ``user_id``; fields add or override."""
    body: dict[str, Any] = {
        "videoSrc": video_src,
        "sdkAppId": SDK_APP_ID,
        "roomId": ROOM_ID,
        "userId": user_id,
        "userSig": USER_SIG,
    }
    body.update(fields)
    return body


def stream_name(user_id: str, room_id: str = ROOM_ID) -> str:
    """The user's stream in the room, as the local RTMP backend names it."""
    return f"{SDK_APP_ID}_{room_id}_{user_id}"


class PusherApi(ServiceApi):
    """The pusher endpoint through the dispatcher (a Flask test client)."""

    service = "pusher"

    def position(self, task_id: str) -> float:
        return float(self.describe(task_id).get("Progress", {}).get("Position", 0.0))

    def wait_position(self, task_id: str, seconds: float, timeout: float = 30.0) -> float:
        """Until Describe's Position reaches ``seconds``; the position then."""
        deadline = time.monotonic() + timeout
        while (position := self.position(task_id)) < seconds:
            if time.monotonic() > deadline:
                raise AssertionError(f"{task_id}: Position {position} never reached {seconds}")
            time.sleep(0.1)
        return position
