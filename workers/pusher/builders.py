"""The pusher's command lines as pure functions (tests/unit/test_pusher_builders.py).

One push run is one ffmpeg: read the source in real time (``-re``; a live source is
already real time), and either copy H.264/AAC or encode to them and publish FLV to an
RTMP room, or (a WebRTC room) encode VP8/Opus and serve Matroska on a loopback port to
the room publisher (workers.pusher.webrtc_publisher). Its progress (``out_time_us=``...)
goes to stderr next to its messages.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from workers.common.media import ffmpeg

COPY_VIDEO = frozenset({"h264"})
COPY_AUDIO = frozenset({"aac"})
# How often ffmpeg reports its position: twice a second, so Redis gets one at least once.
PROGRESS_PERIOD_S = 0.5


@dataclass(frozen=True)
class CodecPlan:
    """Which streams the push carries and whether each is copied or encoded."""

    video: str | None  # the source's codec name, None: no video stream
    audio: str | None
    may_copy: bool = True  # False: the room takes other codecs (WebRTC: VP8/Opus)

    @property
    def copy_video(self) -> bool:
        return self.may_copy and self.video in COPY_VIDEO

    @property
    def copy_audio(self) -> bool:
        return self.may_copy and self.audio in COPY_AUDIO

    @property
    def copies_all(self) -> bool:
        return (self.video is None or self.copy_video) and (self.audio is None or self.copy_audio)


@dataclass(frozen=True)
class WebRtcRoom:
    """Where a WebRTC push goes: a Janus VideoRoom (its API), or a WHIP endpoint."""

    janus_url: str
    room: str
    display: str
    pin: str = field(repr=False)  # the room's pin, or WHIP's bearer token: the UserSig
    timeout_s: float = 10.0
    whip_url: str = ""  # set: publish through this WHIP endpoint, not Janus's own API

    @property
    def shown(self) -> str:
        """The room as messages name it (no pin)."""
        if self.whip_url:
            return f"WHIP endpoint {self.whip_url} as {self.display}"
        return f"{self.janus_url} room {self.room} as {self.display}"


@dataclass(frozen=True)
class PushInput:
    url: str  # what ffmpeg opens: a URL or a local path
    live: bool = False
    start_s: float = 0.0  # where to start in a file
    loops: int = 0  # more passes after the first: -1 forever


def input_args(source: PushInput) -> list[str]:
    if source.loops and source.start_s > 0:
        # ffmpeg loops back to the seek point, not to the file's start: no such mix.
        raise ValueError("a looping push starts at the beginning of the file")
    args: list[str] = []
    if source.live:
        # A dead connection must end the run, not hang it: 10 s without a byte.
        args += ["-rw_timeout", "10000000"]
    else:
        args += ["-re"]
        if source.loops:
            args += ["-stream_loop", str(source.loops)]
        if source.start_s > 0:
            args += ["-ss", f"{source.start_s:.3f}"]
        if source.url.startswith(("http://", "https://")):
            # A flaky file server: reconnect and carry on instead of ending early.
            args += ["-reconnect", "1", "-reconnect_on_network_error", "1",
                     "-reconnect_delay_max", "4", "-rw_timeout", "15000000"]  # fmt: skip
    return [*args, "-i", source.url]


def codec_args(plan: CodecPlan, fps: int = 25) -> list[str]:
    args: list[str] = []
    if plan.video is not None:
        args += ["-map", "0:v:0"]
        if plan.copy_video:
            args += ["-c:v", "copy"]
        else:
            args += [
                "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
                "-pix_fmt", "yuv420p", "-crf", "23", "-maxrate", "3M", "-bufsize", "6M",
                "-g", str(fps * 2),
            ]  # fmt: skip
    if plan.audio is not None:
        args += ["-map", "0:a:0"]
        if plan.copy_audio:
            args += ["-c:a", "copy"]
        else:
            args += ["-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2"]
    return args


def push_argv(binary: str, source: PushInput, plan: CodecPlan, room_url: str) -> list[str]:
    """ffmpeg publishing ``source`` into the room; 'q' on stdin ends it cleanly."""
    return [
        binary, *ffmpeg.base(interactive=True),
        *input_args(source),
        *codec_args(plan),
        "-progress", "pipe:2", "-stats_period", str(PROGRESS_PERIOD_S),
        "-f", "flv", room_url,
    ]  # fmt: skip


def webrtc_codec_args(plan: CodecPlan, fps: int = 25) -> list[str]:
    """VP8/Opus as a browser in a VideoRoom sends them: real-time VP8 (no frame look-ahead,
    a keyframe every 2 s for those who join late, since ffmpeg cannot answer their
    keyframe requests), 48 kHz stereo Opus in 20 ms packets."""
    args: list[str] = []
    if plan.video is not None:
        args += [
            "-map", "0:v:0", "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8",
            "-lag-in-frames", "0", "-error-resilient", "1", "-pix_fmt", "yuv420p",
            # One thread: libvpx's encoder threads busy-wait on each other, and two pushes
            # on two cores spent 0.85 cores each (0.12 with one; 1080p30 still runs 2x
            # real time on one).
            "-threads", "1",
            "-b:v", "1500k", "-maxrate", "2500k", "-bufsize", "1500k", "-g", str(fps * 2),
        ]  # fmt: skip
    if plan.audio is not None:
        args += ["-map", "0:a:0", "-c:a", "libopus", "-b:a", "96k", "-ar", "48000", "-ac", "2",
                 "-frame_duration", "20"]  # fmt: skip
    return args


def media_url(port: int) -> str:
    """Where a WebRTC push's ffmpeg serves its Matroska (the publisher connects to it)."""
    return f"tcp://127.0.0.1:{port}"


def webrtc_push_argv(binary: str, source: PushInput, plan: CodecPlan, port: int) -> list[str]:
    """ffmpeg encoding ``source`` for a WebRTC room; it waits for the room publisher to
    connect to ``port`` before it reads a frame. 'q' on stdin ends it cleanly."""
    return [
        binary, *ffmpeg.base(interactive=True),
        *input_args(source),
        *webrtc_codec_args(plan),
        "-progress", "pipe:2", "-stats_period", str(PROGRESS_PERIOD_S),
        "-f", "matroska", f"{media_url(port)}?listen=1",
    ]  # fmt: skip


def publisher_argv(port: int, room: WebRtcRoom, plan: CodecPlan) -> list[str]:
    """The room publisher (workers.pusher.webrtc_publisher): through Janus's API, or a WHIP
    endpoint; the pin (or token) goes in its env, never here."""
    kinds = [flag for flag, has in (("--video", plan.video), ("--audio", plan.audio)) if has]
    if room.whip_url:
        where = ["--whip", room.whip_url]
    else:
        where = ["--janus", room.janus_url, "--room", room.room]
    return [
        sys.executable, "-m", "workers.pusher.webrtc_publisher", "--media", media_url(port),
        *where, "--display", room.display, "--timeout", f"{room.timeout_s:g}", *kinds,
    ]  # fmt: skip


def probe_argv(binary: str, url: str, live: bool = False) -> list[str]:
    """ffprobe: the container's duration and the streams' codecs, as JSON."""
    args = [binary, "-v", "error", "-print_format", "json", "-show_format", "-show_streams"]
    if live:
        args += ["-rw_timeout", "10000000"]
    return [*args, url]


def keyframe_argv(binary: str, url: str, at_s: float) -> list[str]:
    """ffprobe: the first video packet read after seeking to ``at_s``, i.e. the keyframe a
    stream-copy push starting there really starts at (its time and flags, CSV)."""
    return [
        binary, "-v", "error",
        "-read_intervals", f"{at_s:.3f}%+#1",
        "-select_streams", "v:0",
        "-show_entries", "packet=pts_time,flags",
        "-of", "csv=p=0",
        url,
    ]  # fmt: skip
