"""panorama: an input that opens after the run's zero moves neither stream.

The capture's filter graph (builders.capture_filters) is fed what x11grab and PulseAudio
give it on a busy machine, made with lavfi so that the same stamps come every time: a
picture that turns white and a sound that beeps at the same wall-clock instants every
2 s; the picture grabbed on its 30.0012 fps grid until ffmpeg's inputs stall, then a
burst of catch-up grabs a millisecond apart; the sound opening at the end of that stall
in 10 ms blocks stamped on arrival, each a few milliseconds late now and then.

With the zero after both inputs opened (a quiet machine) and before them (the takeover
that failed: 75-190 ms late), every beep must sit on its flash the same way, within a
frame. Before the fix, the sound came as late as it opened after the zero.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support import avsync
from tests.support.tools import require
from workers.panorama import builders
from workers.panorama.builders import Frame

pytestmark = pytest.mark.integration

WALL_S = 1_000_000.0  # the inputs' wall-clock stamps start here
FRAME_S = 0.033332
STALL = (0.2, 1.2)  # the grab stalls from 0.2 s until the sound opens at 1.2 s
BLOCK = 480  # samples in a PulseAudio block (10 ms)
SECONDS = 9.0
SIZE = Frame(320, 180)


def picture() -> str:
    """White for 200 ms from every odd second, stamped at grab times (a burst after the stall)."""
    stall, opened = STALL
    first_burst = int(stall / FRAME_S) + 1
    stamp = f"max(N*{FRAME_S},if(gte(N,{first_burst}),{opened}+(N-{first_burst})*0.0008,0))"
    return (
        f"color=c=black:s={SIZE.width}x{SIZE.height}:r=1000000/33332:d={SECONDS},"
        "format=bgr0,"
        "drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='between(mod(t,2),1,1.2)',"
        f"setpts='({WALL_S}+{stamp})/TB'"
    )


def sound() -> str:
    """The beep from every odd second, in 10 ms blocks from 1.2 s, each stamped on arrival
    (its end), one in three 3 ms late."""
    opened = STALL[1]
    beep = f"if(between(mod(t+{opened},2),1,1.2),0.5*sin(2*PI*1000*t),0)"
    arrival = f"{WALL_S}+{opened}+(N+{BLOCK})/SR+0.003*eq(mod(N/{BLOCK},3),2)"
    return (
        f"aevalsrc='{beep}|{beep}':s={builders.AUDIO_RATE}:n={BLOCK}:d={SECONDS - opened},"
        f"asetpts='({arrival})/TB'"
    )


def offsets_ms(tmp_path: Path, zero_after_open_s: float) -> list[float]:
    out = tmp_path / f"zero{zero_after_open_s:+.1f}.mp4"
    zero_s = WALL_S + STALL[1] + zero_after_open_s
    argv = [
        require("ffmpeg"), "-hide_banner", "-loglevel", "error", "-copyts",
        "-f", "lavfi", "-i", picture(),
        "-f", "lavfi", "-i", sound(),
        "-filter_complex", builders.capture_filters(SIZE, zero_s),
        "-map", "[v]", "-map", "[a]",
        "-c:v", "libx264", "-preset", "ultrafast", "-r", builders.GRAB_RATE,
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-y", str(out),
    ]  # fmt: skip
    subprocess.run(argv, check=True, timeout=120)
    return [pair.offset_ms for pair in avsync.measure(out).pairs]


def test_the_sound_stays_on_the_picture_when_the_inputs_open_after_the_zero(tmp_path):
    # Given the same inputs, cut at a zero after both opened (a quiet machine)
    quiet = offsets_ms(tmp_path, +0.5)
    # and at a zero 0.2 s before they opened (the grab's burst and the sound's head after it)
    busy = offsets_ms(tmp_path, -0.2)

    # Then every beep is on its flash within a frame, both times
    assert len(quiet) >= 3 and len(busy) >= 3, (quiet, busy)
    late_or_early = [round(o) for o in quiet + busy if abs(o) > FRAME_S * 1000]
    assert not late_or_early, f"beep minus flash (ms): quiet {quiet}, busy {busy}"
    # and where the zero fell changes nothing (a frame's phase at most)
    assert abs(sum(busy) / len(busy) - sum(quiet) / len(quiet)) < 5, (quiet, busy)
