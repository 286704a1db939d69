"""Command lines of the browser stack as pure functions (tests/unit/test_panorama_builders.py).

Xvfb ─▶ PulseAudio ─▶ Chromium ─▶ ffmpeg (x11grab + pulse ─▶ H.264/AAC segments)
                                      └─▶ (live outputs) the same packets to loopback UDP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workers.common.media import ffmpeg
from workers.common.media.ffmpeg import SegmentRun

if TYPE_CHECKING:
    from config.settings import Settings

FPS = 30
# Chromium on Xvfb begins a frame every 16666 us (viz's default BeginFrame interval: there
# is no display to pace it), which is 40 ppm faster than 60 per second; with Energy Saver
# on (browser.LOCAL_STATE) it draws every other one, 33332 us apart. The grab and the
# file's frame clock tick at that interval, not every 1/30 s: at 1/30 s (which x11grab
# even rounds to 33333 us) the renderer's frames slide past the grab's ticks, and a page
# event is caught one tick later every 15-20 minutes, the picture stepping 33 ms against
# its sound (issue 11's third hour). Locked, each frame is caught at the same phase all
# recording long. tests/integration/test_panorama_sync.py checks the interval.
RENDERER_FRAME_US = 2 * 16666
GRAB_RATE = f"1000000/{RENDERER_FRAME_US}"  # 30.0012 frames a second
AUDIO_RATE = 48000
# aresample may stretch or squeeze the sound by up to this many samples a second (2 %)
# to keep it on its timestamps; larger jumps are filled with silence or trimmed.
RESAMPLE_STRETCH = 1000
# Sound is read from the sink in 10 ms blocks (48000 Hz x 2 channels x 2 bytes):
# a block's read time, stamped on arrival, is then at most 10 ms after its sound.
PULSE_FRAGMENT_BYTES = 480 * 2 * 2
# Grabbed frames waiting for the encoder: about a second. Each is a shared-memory image
# held by Xvfb and ffmpeg (3.7 MB at 1280x720): with 512, an encoder slowed by a busy
# machine let the backlog grow to 1.2 GB and stay (bench-panorama, measured). When the
# queue is full the grab waits, and the frames it missed become duplicates: the picture
# stutters under overload instead of the worker running out of memory.
GRAB_QUEUE_FRAMES = 32
# A run's zero, after ffmpeg starts: both inputs deliver within ~0.5 s on a quiet
# machine (measured: picture 0.2 s, sound 0.35-0.45 s with the sink listener).
WARMUP_S = 1.0
SINK = "capture"  # the null sink Chromium plays into; ffmpeg records its monitor


# The grabbed picture (bgr0) to the encoder's yuv420p, chroma sampled at its nearest pixel
# rather than filtered: the conversion took a quarter less of ffmpeg's CPU at 1280x720, the
# picture 0.05 dB PSNR from bicubic's (bench.panorama --only density; README).
TO_YUV420 = "scale=flags=neighbor,format=yuv420p"
# Up to this many pixels x264 encodes in one thread: at 1280x720 its sliced threads cost
# more CPU than they save (measured), while one thread keeps well within a frame's 33 ms.
# Larger pictures keep x264's own choice, so that a frame is encoded in time.
ONE_THREAD_MAX_PIXELS = 1280 * 720


@dataclass(frozen=True)
class Encoder:
    """x264's settings for the page's picture (their one home: Settings.panorama_x264_*)."""

    preset: str
    crf: int

    @classmethod
    def of(cls, settings: Settings) -> Encoder:
        return cls(settings.panorama_x264_preset, settings.panorama_x264_crf)


def encode_args(
    encoder: Encoder, keyframe_s: int, *, rate: str = "", frame: Frame | None = None
) -> list[str]:
    """H.264 + AAC as the capture (and the live pause filler) encode; ``frame``: x264's
    threads for that size (ONE_THREAD_MAX_PIXELS)."""
    args = ffmpeg.h264_encode(FPS, keyframe_s, rate=rate, preset=encoder.preset, crf=encoder.crf)
    if frame is not None and frame.pixels <= ONE_THREAD_MAX_PIXELS:
        at = args.index("-c:a")
        args[at:at] = ["-threads:v", "1"]
    return args


@dataclass(frozen=True)
class Frame:
    """The picture: the page's size, and the encoded size (even, as yuv420p needs)."""

    width: int
    height: int

    @property
    def encoded(self) -> tuple[int, int]:
        # An odd side gets one black pixel of padding rather than losing a row of the page.
        return self.width + self.width % 2, self.height + self.height % 2

    @property
    def pixels(self) -> int:
        width, height = self.encoded
        return width * height

    @property
    def screen(self) -> tuple[int, int]:
        # Chromium on X11 without a window manager keeps a fullscreen (kiosk) window one
        # pixel short of the screen: a screen one pixel larger gives a window of exactly
        # width x height at (0, 0), which is all that is grabbed.
        return self.width + 1, self.height + 1


def xvfb(frame: Frame) -> list[str]:
    """Xvfb picks a free display and writes its number to stderr (fd 2), where
    ManagedProcess reads it: no race on a guessed display number."""
    width, height = frame.screen
    return [
        "Xvfb",
        "-displayfd", "2",
        "-screen", "0", f"{width}x{height}x24",
        "-nolisten", "tcp",
        "-nocursor",
        "-noreset",
    ]  # fmt: skip


def pulseaudio(socket: Path) -> list[str]:
    """A private PulseAudio daemon: no default script, one unix socket, one null sink.

    Running as root works without --system (it only warns); HOME and the runtime
    directories come from pulse_env so that daemons of different tasks never meet.
    """
    return [
        "pulseaudio",
        "-n",  # no default.pa: nothing but the modules below
        "--daemonize=no",
        "--use-pid-file=no",
        "--exit-idle-time=-1",
        "--disallow-exit",
        "--disable-shm=yes",
        "--log-target=stderr",
        "--log-level=error",
        f"--load=module-native-protocol-unix socket={socket} auth-anonymous=1",
        f"--load=module-null-sink sink_name={SINK} rate=48000 channels=2",
    ]


# How often the sink renders while recording (see sink_listener).
SINK_TICK_MS = 10


def sink_listener(server: str) -> list[str]:
    """A reader of the sink's monitor that asks for 10 ms blocks and discards them.

    A null sink that nobody listens to at a low latency renders in blocks of up to 2 s
    (its largest latency), and a capture that opens its monitor waits for the current
    block to end: measured, its first sound came 1.8 s after its first picture (and
    after every Pause the sink fell back to 2 s blocks). With a reader at all times (this
    one, or a capture: display.AudioSink), the sink renders every 10 ms and every capture
    run has sound within ~0.2 s.
    """
    return [
        "parec",
        f"--server={server}",
        f"--device={SINK}.monitor",
        f"--latency-msec={SINK_TICK_MS}",
        f"--stream-name={LISTENER_STREAM}",  # how sink_readers finds it
        "--raw",  # to stdout, which ManagedProcess sends to /dev/null
    ]


LISTENER_STREAM = "capstan-sink-listener"


def sink_readers(server: str) -> list[str]:
    """pactl listing the streams reading the sink's monitor, with their media.name."""
    return ["pactl", f"--server={server}", "list", "source-outputs"]


def pulse_env(home: Path) -> dict[str, str]:
    """Where one task's PulseAudio keeps its state (all under the task's directory)."""
    return {
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "PULSE_RUNTIME_PATH": str(home),
        "PULSE_STATE_PATH": str(home),
        "DBUS_SESSION_BUS_ADDRESS": "disabled:",
    }


def chromium_args(frame: Frame, proxy: str) -> list[str]:
    """Chromium in kiosk mode: no browser chrome, no scrollbars, sound without a gesture.

    Every request goes through ``proxy`` (the task's page proxy, which applies the URL
    policy): ``<-loopback>`` removes Chromium's implicit bypass of localhost."""
    return [
        f"--proxy-server={proxy}",
        "--proxy-bypass-list=<-loopback>",
        "--no-sandbox",  # the farm runs as root in a container; the task's page is the input
        # No GPU: pages are composited in software (the cheapest without one), and WebGL
        # runs on SwiftShader, which Chromium (156, tested) no longer falls back to without
        # this flag: Playwright adds it by default, but WebGL must not hang on that default.
        "--disable-gpu",
        "--enable-unsafe-swiftshader",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        # (The "Translate this page?" bubble is off by a profile preference: browser.py.)
        "--disable-features=MediaRouter,InfiniteSessionRestore",
        # A public page may not reach private addresses behind the farm (URL policy).
        "--enable-features=BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights",
        "--disable-infobars",
        "--disable-session-crashed-bubble",
        "--disable-dev-shm-usage",
        "--password-store=basic",
        "--kiosk",
        "--window-position=0,0",
        f"--window-size={frame.width},{frame.height}",
        "--autoplay-policy=no-user-gesture-required",
        "--hide-scrollbars",
    ]


# Playwright's defaults that would show in the picture ("controlled by automated software").
CHROMIUM_DROPPED_DEFAULTS = ["--enable-automation"]


def capture(
    frame: Frame,
    display: str,
    pulse_server: str,
    *,
    run: SegmentRun,
    segment_seconds: int,
    progress: Path,
    wallclock_s: float,
    encoder: Encoder,
    live_ports: Sequence[int] = (),
) -> list[str]:
    """ffmpeg: the display's top-left width x height and the sink's monitor into segments.

    Picture and sound keep the clock they were captured by: x11grab stamps each frame
    with the wall clock when it grabs it, and each block of sound is stamped with the
    wall clock when it arrives (``-use_wallclock_as_timestamps``: the pulse input's own
    stamps come from a latency estimate that settles on an error of up to 0.7 s, a
    different one in every process). ``-copyts`` keeps those stamps: by default ffmpeg
    would start each input at zero on its own, and the audio, which opens later, would
    be shifted by the difference.

    The run's zero is ``WARMUP_S`` after ``wallclock_s`` (taken just before ffmpeg
    starts): both inputs are open by then, and what came before is trimmed, so picture
    and sound both begin at the zero. ``initial_offset`` puts the zero where the
    recording's audio ended (``run.start``): runs follow each other without overlap or
    hole, and the time spent paused is not in the file.

    The audio is resampled to its timestamps (``aresample=async``): a player plays
    samples one after the other, so their count must follow the clock. Should the sound
    open later than the zero (a very loaded machine), its head is filled with silence
    (``capture_filters``: an input opening late moves neither stream).

    ``progress`` receives ffmpeg's key=value figures (frames, dups, drops, out_time):
    how the session tells a stalled capture and counts dropped frames.

    ``live_ports`` (live outputs, workers/panorama/live.py): the same encoded packets go
    also, as MPEG-TS, to these loopback UDP ports, where the relays read them (no second
    encode). Sending a datagram never waits for its reader, so a slow or absent relay can
    not hold the capture back; ``onfail=ignore`` keeps the file going should a send fail.
    """
    zero_s = wallclock_s + WARMUP_S
    args = [
        *ffmpeg.base(interactive=True),
        "-progress", str(progress),
        "-stats_period", "0.5",
        "-copyts",
        "-f", "x11grab",
        "-thread_queue_size", str(GRAB_QUEUE_FRAMES),
        "-draw_mouse", "0",
        "-framerate", GRAB_RATE,
        "-video_size", f"{frame.width}x{frame.height}",
        "-i", f"{display}.0+0,0",
        "-f", "pulse",
        "-thread_queue_size", "1024",
        "-server", pulse_server,
        "-sample_rate", str(AUDIO_RATE),
        "-channels", "2",
        "-fragment_size", str(PULSE_FRAGMENT_BYTES),
        "-use_wallclock_as_timestamps", "1",
        "-i", f"{SINK}.monitor",
        "-filter_complex", capture_filters(frame, zero_s),
        "-map", "[v]", "-map", "[a]",
    ]  # fmt: skip
    encode = encode_args(encoder, segment_seconds, rate=GRAB_RATE, frame=frame)
    # The run's zero is where the audio ended: the sound goes on without a hole.
    output = ffmpeg.segment_output(run, segment_seconds, timeline_offset_s=run.start.audio_s)
    if live_ports:
        output = tee(output, [live_feed(port) for port in live_ports])
    return [*args, *encode, *output]


def capture_filters(frame: Frame, zero_s: float) -> str:
    """The capture's filter graph: input 0's picture and input 1's sound, both stamped with
    the wall clock, onto the run's timeline from ``zero_s`` (labels ``[v]`` and ``[a]``).

    Whether an input opened before the zero or after it (a busy machine) must not move
    one stream against the other (tests/integration/test_capture_filters.py):

    - The picture goes onto its frame grid here (``fps``, the grid starting at the zero),
      each frame in the slot of its grab time. ffmpeg's inputs start reading together
      once the last one is open, and x11grab catches up on the ticks it missed with a
      burst of grabs a millisecond apart; left to the output's frame-rate sync, two of
      them took successive slots and every later frame sat a slot late (33 ms).
    - The sound is resampled onto its stamps (``aresample=async``) with the resampler built
      from the start (``flags=res``): built lazily, at the first small correction, it
      reset its position to ``first_pts`` and filled the head with silence a second time,
      so a sound that opened X after the zero played X late for the whole run (what the
      takeover test caught: 75-190 ms).
    """
    zero = f"{zero_s:.6f}/TB"
    video = f"setpts=PTS-{zero},trim=start=0,fps=fps={GRAB_RATE}:start_time=0:round=near"
    if frame.encoded != (frame.width, frame.height):
        width, height = frame.encoded
        video += f",pad={width}:{height}:0:0:black"
    video += f",{TO_YUV420}"
    # A block of sound ends when it is read: it began its own length earlier.
    audio = (
        f"asetpts=PTS-NB_SAMPLES/SR/TB-{zero},atrim=start=0,"
        f"aresample=async={RESAMPLE_STRETCH}:first_pts=0:flags=res,"
        "asetpts=N/SR/TB+STARTPTS"  # then stamped by the sample count: never backwards
    )
    return f"[0:v]{video}[v];[1:a]{audio}[a]"


# ---- live outputs (workers/panorama/live.py) ----------------------------------------

# 7 MPEG-TS packets: one datagram, the usual size for TS over UDP (and SRT's payload).
TS_DATAGRAM = 1316
# What a relay's UDP input buffers (in 188-byte packets) while its output is slow: ~5 s
# of a recording at 2 Mb/s; beyond that it drops, and the capture never waits.
RELAY_FIFO_PACKETS = 8192
_TEE_SPECIAL = set("[]|:\\'")
# ffmpeg gives an output muxer a max_delay of 0.7 s (its -muxdelay), which MPEG-TS puts
# before the first packet; a tee's slaves get none unless told. Told, the segments are
# the plain capture's (timestamps compared packet by packet), and so is the file.
MUX_DELAY_US = 700000


def live_feed(port: int) -> str:
    """Where the capture (and the pause filler) send the live packets."""
    return f"udp://127.0.0.1:{port}?pkt_size={TS_DATAGRAM}"


def tee(output: list[str], feeds: Sequence[str]) -> list[str]:
    """``output`` (``-f FORMAT -opt value ... PATH``) as the first slave of a tee muxer,
    and an MPEG-TS slave per feed that the tee drops, not the file, when it fails."""
    *flags, path = output
    names, values = flags[::2], flags[1::2]
    pairs = [(name.lstrip("-"), value) for name, value in zip(names, values, strict=True)]
    for _, value in [*pairs, ("path", path)]:
        if _TEE_SPECIAL & set(value):
            raise ValueError(f"tee: {value!r} has a character the tee muxer would split on")
    first = ":".join(f"{name}={value}" for name, value in pairs)
    first = f"[{first}:max_delay={MUX_DELAY_US}]{path}"
    slaves = [f"[f=mpegts:max_delay={MUX_DELAY_US}:onfail=ignore]{feed}" for feed in feeds]
    return ["-f", "tee", "|".join([first, *slaves])]


def relay(port: int, url: str, progress: Path) -> list[str]:
    """ffmpeg: the live packets from ``port`` to ``url`` by stream copy (FLV for RTMP(S),
    MPEG-TS for SRT). Its input's timestamps jump where a capture run or the pause filler
    takes over (each starts at zero); ffmpeg's discontinuity correction for MPEG-TS input
    lays them end to end, so the live stream's clock never goes back."""
    is_srt = url.lower().startswith("srt:")
    return [
        *ffmpeg.base(interactive=True),
        "-progress", str(progress),
        "-stats_period", "0.5",
        "-f", "mpegts",
        "-i", f"udp://127.0.0.1:{port}?fifo_size={RELAY_FIFO_PACKETS}&overrun_nonfatal=1",
        "-map", "0:v:0", "-map", "0:a:0",
        "-c", "copy",
        *(["-f", "mpegts"] if is_srt else ["-f", "flv", "-flvflags", "no_duration_filesize"]),
        url if not is_srt else _srt_url(url),
    ]  # fmt: skip


def _srt_url(url: str) -> str:
    # SRT carries the TS in 1316-byte payloads and must be told that it is live.
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}mode=caller&transtype=live&pkt_size={TS_DATAGRAM}"


SLATE_COLOUR = "0x202020"


def pause_filler(
    frame: Frame,
    kind: str,
    ports: Sequence[int],
    keyframe_s: int,
    encoder: Encoder,
) -> list[str]:
    """ffmpeg: what live outputs show while the recording is paused, so that players do not
    drop: black frames, or a "Paused" slate, with silence, encoded as the capture encodes
    (same size, rate and H.264/AAC settings: players see one stream go on). It runs only
    while paused, when no capture encodes: still frames cost little."""
    width, height = frame.encoded
    picture = f"color=c={'black' if kind == 'black' else SLATE_COLOUR}:s={width}x{height}:r={FPS}"
    if kind == "slate":
        size = max(12, height // 10)
        picture += f",drawtext=text=Paused:fontcolor=white:fontsize={size}:x=(w-tw)/2:y=(h-th)/2"
    args = [
        *ffmpeg.base(interactive=True),
        "-re", "-f", "lavfi", "-i", picture,
        "-re", "-f", "lavfi", "-i", f"anullsrc=r={AUDIO_RATE}:cl=stereo",
        "-map", "0:v", "-map", "1:a",
    ]  # fmt: skip
    feeds = [
        f"[f=mpegts:max_delay={MUX_DELAY_US}:onfail=ignore]{live_feed(port)}" for port in ports
    ]
    encode = encode_args(encoder, keyframe_s, frame=frame)
    return [*args, *encode, "-f", "tee", "|".join(feeds)]
