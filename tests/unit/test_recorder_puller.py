"""Why a pull ended, from ffmpeg's last lines (real ffmpeg 5.1 messages)."""

from __future__ import annotations

import pytest

from workers.recorder.puller import RunEnd, classify, last_error


@pytest.mark.parametrize(
    ("tail", "end"),
    [
        (["[rtmp @ 0x5] Server error: No such stream",
          "rtmp://127.0.0.1:1935/live/1_2_u: Operation not permitted"], RunEnd.GONE),
        (["rtmp://127.0.0.1:1935/live/1_2_u: Input/output error"], RunEnd.GONE),
        ([], RunEnd.GONE),  # the stream ended cleanly: the user left
        (["[tcp @ 0x5] Connection to tcp://127.0.0.1:1?tcp_nodelay=0 failed: Connection refused",
          "rtmp://127.0.0.1:1/live/x: Connection refused"], RunEnd.UNREACHABLE),
        (["[tcp @ 0x5] Failed to resolve hostname cdn.invalid: Name or service not known"],
         RunEnd.UNREACHABLE),
        (["rtmpx://h/live/x: Protocol not found"], RunEnd.UNREACHABLE),
        (["Stream map '0:a:0' matches no streams."], RunEnd.NO_TRACK),
        (["Output file #0 does not contain any stream"], RunEnd.NO_TRACK),
    ],
)  # fmt: skip
def test_classify(tail, end):
    assert classify(tail) is end


def test_last_error_hides_the_user_sig():
    tail = ["", "rtmp://h/push/1?sdkappid=1&userid=u&usersig=SIG: Connection refused", " "]
    assert last_error(tail, "unused", "SIG") == (
        "rtmp://h/push/1?sdkappid=1&userid=u&usersig=***: Connection refused"
    )
