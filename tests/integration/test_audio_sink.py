"""panorama's audio sink: a reader of its monitor at every moment, so that it renders in
10 ms blocks and never in the 2 s blocks a capture opened on it would wait out.

Real PulseAudio, parec and ffmpeg: the sink's configured latency as PulseAudio reports it,
through a capture run that takes over from the sink's listener and hands back to it.
"""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from tests.support.tools import require
from workers.common.media.process import ManagedProcess
from workers.panorama import builders
from workers.panorama.display import AudioSink

pytestmark = pytest.mark.integration

TICK_US = builders.SINK_TICK_MS * 1000
_CONFIGURED = re.compile(r"configured (\d+) usec")


def configured_latency_us(sink: AudioSink) -> int:
    listing = _pactl(sink, "list", "sinks")
    found = _CONFIGURED.search(listing)
    assert found, listing
    return int(found.group(1))


def readers(sink: AudioSink) -> list[str]:
    """The media.name of every stream reading the sink's monitor."""
    return re.findall(r'media\.name = "([^"]*)"', _pactl(sink, "list", "source-outputs"))


def _pactl(sink: AudioSink, *args: str) -> str:
    return subprocess.run(
        ["pactl", f"--server={sink.server}", *args],
        env=builders.pulse_env(sink.home),
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout


def monitor_capture(sink: AudioSink) -> ManagedProcess:
    """ffmpeg reading the monitor as the capture does (10 ms fragments), into nothing."""
    argv = [
        "ffmpeg", "-hide_banner", "-nostats", "-loglevel", "error", "-f", "pulse",
        "-server", sink.server, "-sample_rate", str(builders.AUDIO_RATE), "-channels", "2",
        "-fragment_size", str(builders.PULSE_FRAGMENT_BYTES), "-stream_name", "capture",
        "-i", f"{builders.SINK}.monitor", "-f", "null", "-",
    ]  # fmt: skip
    proc = ManagedProcess("ffmpeg-monitor", argv).start()
    proc.wait_ready(lambda: "capture" in readers(sink), timeout_s=10)
    return proc


@pytest.fixture
def sink():
    for tool in ("pulseaudio", "parec", "pactl", "ffmpeg"):
        require(tool)
    audio = AudioSink().start()
    yield audio
    audio.close()


def test_a_started_sink_has_its_listener_and_renders_in_10_ms_blocks(sink):
    assert readers(sink) == [builders.LISTENER_STREAM]
    assert configured_latency_us(sink) == TICK_US


def test_a_capture_takes_over_from_the_listener_and_hands_back_before_it_ends(sink):
    capture = monitor_capture(sink)
    try:
        sink.hand_over()
        time.sleep(0.3)
        # The capture alone keeps the sink at 10 ms: the listener's stream is gone.
        assert readers(sink) == ["capture"]
        assert configured_latency_us(sink) == TICK_US
        sink.listen()  # what the session does before it stops a capture run
        assert sorted(readers(sink)) == sorted(["capture", builders.LISTENER_STREAM])
    finally:
        capture.stop()
        capture.close()
    time.sleep(0.3)
    # Without the listen() above, nothing would read the sink now: back to 2 s blocks.
    assert readers(sink) == [builders.LISTENER_STREAM]
    assert configured_latency_us(sink) == TICK_US


def test_a_sink_nobody_reads_falls_back_to_long_blocks(sink):
    """The failure the listener prevents, shown on the real sink (so the checks above
    can tell): with no reader, PulseAudio configures the sink far above 10 ms."""
    sink.hand_over()
    time.sleep(0.3)
    assert readers(sink) == []
    assert configured_latency_us(sink) > 100 * TICK_US
