"""Live outputs' pure parts: the capture's extra output, the relay and filler command
lines, redaction, and the relays' states and retries on a fake clock with fake processes
(the real ones are in tests/integration/test_panorama_live.py)."""

from __future__ import annotations

import itertools
import signal
from collections.abc import Sequence
from pathlib import Path

import pytest

from workers.common.media.ffmpeg import Ends, SegmentRun
from workers.common.pacing.backoff import Backoff
from workers.panorama import builders
from workers.panorama.builders import Frame
from workers.panorama.live import LiveOutputs
from workers.panorama.relay import CONNECT_S, STALL_S, Relay, State, hide, redact

KEY = "live_8731_s3cr3t"
URL = f"rtmp://live.example.com:1935/app/{KEY}"
RUN = SegmentRun(Path("/w/segments"), "e0001r0002", Ends(audio_s=12.5, video_s=12.4))
ENCODER = builders.Encoder("superfast", 21)


def capture(**live) -> list[str]:
    return builders.capture(
        Frame(640, 360), ":7", "unix:/p", run=RUN, segment_seconds=4,
        progress=Path("/w/p"), wallclock_s=100.0, encoder=ENCODER, **live,
    )  # fmt: skip


# ---- command lines -------------------------------------------------------------------


def test_without_live_outputs_the_capture_writes_its_segments_only():
    argv = capture()
    assert "tee" not in argv
    assert argv[-1] == "/w/segments/e0001r0002_%05d.ts"


def test_live_outputs_add_udp_slaves_to_the_same_encode():
    # Given two live outputs
    argv = capture(live_ports=[40001, 40002])
    # Then there is still one encode, and a tee: the segments as before, and each port
    assert argv.count("-c:v") == 1 and argv.count("libx264") == 1
    assert argv[-3:-1] == ["-f", "tee"]
    segments, *feeds = argv[-1].split("|")
    assert segments == (
        "[f=segment:segment_time=4:segment_format=mpegts:initial_offset=12.500000:"
        "segment_list=/w/segments/e0001r0002.csv:segment_list_type=csv:max_delay=700000]"
        "/w/segments/e0001r0002_%05d.ts"
    )
    assert feeds == [
        "[f=mpegts:max_delay=700000:onfail=ignore]udp://127.0.0.1:40001?pkt_size=1316",
        "[f=mpegts:max_delay=700000:onfail=ignore]udp://127.0.0.1:40002?pkt_size=1316",
    ]
    # and everything before the output is the plain capture's
    assert argv[:-3] == capture()[: len(argv) - 3]


def test_tee_refuses_a_path_it_would_split():
    with pytest.raises(ValueError, match="tee"):
        builders.tee(["-f", "segment", "/w/a|b_%05d.ts"], ["udp://127.0.0.1:1"])


def test_relay_copies_to_flv_for_rtmp_and_to_mpegts_for_srt():
    rtmp = builders.relay(40001, URL, Path("/w/live0.progress"))
    assert rtmp[rtmp.index("-i") + 1].startswith("udp://127.0.0.1:40001?")
    assert rtmp[rtmp.index("-c") + 1] == "copy"
    assert rtmp[rtmp.index("-f", rtmp.index("-i")) + 1] == "flv"
    assert rtmp[-1] == URL
    srt = builders.relay(40001, "srt://h:9000?streamid=k", Path("/w/p"))
    assert srt[srt.index("-f", srt.index("-i")) + 1] == "mpegts"
    assert srt[-1] == "srt://h:9000?streamid=k&mode=caller&transtype=live&pkt_size=1316"


@pytest.mark.parametrize(("kind", "colour"), [("black", "black"), ("slate", "0x202020")])
def test_pause_filler_encodes_still_frames_as_the_capture_encodes(kind, colour):
    argv = builders.pause_filler(Frame(641, 361), kind, [40001], 4, ENCODER)
    picture = argv[argv.index("-i") + 1]
    assert picture.startswith(f"color=c={colour}:s=642x362:r=30")  # the encoded size
    assert ("drawtext=text=Paused" in picture) == (kind == "slate")
    encode = builders.encode_args(ENCODER, 4, frame=Frame(641, 361))
    assert argv[-3 - len(encode) : -3] == encode
    assert encode[encode.index("-preset") + 1] == "superfast"
    assert (
        argv[-1] == "[f=mpegts:max_delay=700000:onfail=ignore]udp://127.0.0.1:40001?pkt_size=1316"
    )


# ---- no secret in what is shown ------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (URL, "rtmp://live.example.com:1935/app/***"),
        ("rtmps://u:pw@[::1]/live2/key?sig=1", "rtmps://[::1]/live2/***?***"),
        ("srt://h:9000?streamid=#!::r=live/k,m=publish", "srt://h:9000?***"),
        ("rtmp://h/app", "rtmp://h/app"),
    ],
)
def test_redact_keeps_where_and_hides_the_key(url, shown):
    assert redact(url) == shown


def test_ffmpeg_words_lose_the_url_and_its_parts():
    line = f"[rtmp @ 0x5] {URL}: Connection refused (key {KEY})"
    assert hide(line, URL) == (
        "[rtmp @ 0x5] rtmp://live.example.com:1935/app/***: Connection refused (key ***)"
    )


# ---- relays on a fake clock ----------------------------------------------------------


class FakeProcess:
    def __init__(self, name: str, argv: list[str]) -> None:
        self.name, self.argv = name, argv
        self.alive = True
        self.returncode: int | None = None
        self.lines: list[str] = []
        self.signals: list[int] = []

    def tail(self, count: int | None = None) -> list[str]:
        return self.lines

    def stop(self, *, grace_s: float = 5.0, quit_key: bool = False) -> int | None:
        self.alive = False
        return 0

    def signal(self, signum: int, *, group: bool = True) -> None:
        self.signals.append(signum)

    def wait(self, timeout_s: float) -> bool:
        return not self.alive  # like ffmpeg waiting on a silent input: not at the first signal

    def close(self) -> None:
        self.alive = False

    def die(self, line: str, code: int = 1) -> None:
        self.alive, self.returncode, self.lines = False, code, [line]


class Launcher:
    def __init__(self) -> None:
        self.started: list[FakeProcess] = []

    def __call__(self, name: str, argv: list[str], secrets: Sequence[str] = ()) -> FakeProcess:
        self.started.append(FakeProcess(name, argv))
        return self.started[-1]

    def last(self, name: str) -> FakeProcess:
        return [p for p in self.started if p.name.startswith(name)][-1]


def sent(relay: Relay, seconds: float) -> None:
    """What the relay's ffmpeg writes to its -progress file as it sends."""
    relay.progress.write_text(f"frame=1\nout_time_us={int(seconds * 1e6)}\nprogress=continue\n")


def make_relay(tmp_path, launcher, url=URL, allowlist=()) -> Relay:
    return Relay(
        0, url, 40001, tmp_path, ffmpeg_cmd="ffmpeg", allowlist=allowlist,
        launch=launcher, backoff=Backoff(1.0, 30.0),
    )  # fmt: skip


def test_a_relay_is_connecting_until_it_sends_then_live(tmp_path):
    launcher = Launcher()
    relay = make_relay(tmp_path, launcher)
    relay.tick(0.0, paused=False)
    (proc,) = launcher.started
    assert proc.argv[0] == "ffmpeg" and proc.argv[-1] == URL
    assert relay.view() == {"Url": redact(URL), "State": "connecting", "Attempts": 1}
    sent(relay, 0.5)
    relay.tick(0.5, paused=False)
    assert relay.state is State.LIVE
    relay.tick(1.0, paused=True)  # the filler's frames: connected, showing the pause
    assert relay.state is State.PAUSED


def test_a_failing_relay_is_retried_with_growing_delays_and_reported_without_its_key(
    tmp_path,
):
    # Given a relay whose server refuses, again and again
    launcher = Launcher()
    relay = make_relay(tmp_path, launcher)
    now, starts = 0.0, []
    while len(starts) < 4:
        relay.tick(now, paused=False)
        proc = launcher.started[-1]
        if proc.alive:
            starts.append(now)
            proc.die(f"{URL}: Connection refused")
        now += 0.25
    # Then it was tried after 1 s, 2 s and 4 s, and Describe says why, key hidden
    assert [b - a for a, b in itertools.pairwise(starts)] == [1.25, 2.25, 4.25]
    relay.tick(now, paused=False)
    assert relay.view() == {
        "Url": "rtmp://live.example.com:1935/app/***",
        "State": "retrying",
        "Attempts": 4,
        "LastError": "exited (code 1): rtmp://live.example.com:1935/app/***: Connection refused",
    }
    # and once it connects and sends, the delays start again from the first
    relay.tick(now + 10, paused=False)
    sent(relay, 1.0)
    relay.tick(now + 11, paused=False)
    assert relay.state is State.LIVE
    launcher.started[-1].die("Broken pipe")
    relay.tick(now + 12, paused=False)
    relay.tick(now + 13, paused=False)
    assert launcher.started[-1].alive  # retried 1 s later
    assert relay.attempts == 6


def test_a_relay_that_sends_nothing_for_long_is_restarted(tmp_path):
    launcher = Launcher()
    relay = make_relay(tmp_path, launcher)
    relay.tick(0.0, paused=False)
    relay.tick(CONNECT_S - 1, paused=False)  # still reading the stream before connecting
    assert relay.state is State.CONNECTING
    relay.tick(CONNECT_S + 0.1, paused=False)
    assert relay.last_error == f"sent nothing for {CONNECT_S:.0f}s"
    relay.tick(CONNECT_S + 2, paused=False)  # tried again
    assert relay.attempts == 2
    sent(relay, 2.0)
    relay.tick(CONNECT_S + 2.5, paused=False)
    relay.tick(CONNECT_S + 3, paused=False)
    relay.tick(CONNECT_S + 3 + STALL_S + 0.1, paused=False)  # the same out_time all along
    assert relay.state is State.RETRYING
    assert relay.last_error == f"sent nothing for {STALL_S:.0f}s"
    assert not launcher.started[1].alive


def test_a_url_the_policy_refuses_when_connecting_fails_for_good(tmp_path):
    launcher = Launcher()
    relay = make_relay(tmp_path, launcher, url="rtmp://10.1.2.3/app/k")
    for now in (0.0, 5.0, 60.0):
        relay.tick(now, paused=False)
    assert launcher.started == []
    assert relay.state is State.FAILED
    assert "10.1.2.3, a private address" in relay.last_error
    allowed = make_relay(tmp_path, launcher, url="rtmp://10.1.2.3/app/k", allowlist=["10.0.0.0/8"])
    allowed.tick(0.0, paused=False)
    assert allowed.state is State.CONNECTING


def test_pause_feeds_the_relays_a_filler_and_stop_ends_everything(tmp_path):
    # Given two live outputs, both sending
    launcher, reports, clock = Launcher(), [], [0.0]
    relays = [
        Relay(
            i, f"{URL}{i}", 40001 + i, tmp_path, ffmpeg_cmd="ffmpeg", allowlist=(), launch=launcher
        )
        for i in range(2)
    ]
    outputs = LiveOutputs(
        relays, lambda ports: ["filler", *map(str, ports)], reports.append,
        launch=launcher, clock=lambda: clock[0],
    )  # fmt: skip
    outputs.tick()
    for relay in relays:
        sent(relay, 1.0)
    clock[0] = 1.0
    outputs.tick()
    assert [r["State"] for r in reports[-1]] == ["live", "live"]
    # When the recording pauses, a filler feeds both ports until it resumes
    outputs.pause()
    filler = launcher.last("live-pause-filler")
    assert filler.argv == ["filler", "40001", "40002"] and filler.alive
    assert [r["State"] for r in reports[-1]] == ["paused", "paused"]
    outputs.resume()
    assert not filler.alive
    assert [r["State"] for r in reports[-1]] == ["live", "live"]
    # When it stops, each relay is interrupted (twice: it waits on a silent input) and ends
    outputs.stop()
    for i in range(2):
        relay_proc = launcher.last(f"live-relay-{i}")
        assert relay_proc.signals == [signal.SIGINT, signal.SIGINT] and not relay_proc.alive
    assert [r["State"] for r in reports[-1]] == ["ended", "ended"]
    assert all(KEY not in repr(report) for report in reports)
    outputs.close()


def test_reports_only_when_something_changed(tmp_path):
    launcher, reports = Launcher(), []
    relay = make_relay(tmp_path, launcher)
    outputs = LiveOutputs([relay], lambda ports: ["filler"], reports.append, launch=launcher)
    outputs.tick()
    outputs.tick()
    assert len(reports) == 1
