"""The Janus backend's pure parts: the SDP and ffmpeg line a forwarded run reads with, the
forwarders rtp_forward reports, the client's errors, Janus's config, `make run`'s plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import Settings
from deploy.local import janus as local_janus
from deploy.local import supervisor
from deploy.local.stack import Layout
from tests.support.tools import free_port
from workers.common.delivery import janus
from workers.common.media.ffmpeg import SegmentRun
from workers.recorder import builders, janus_pull


@pytest.mark.parametrize(
    ("audio", "video", "media_lines"),
    [
        ((5000, "opus"), (5002, "vp8"), ["m=audio 5000 RTP/AVP 111", "a=rtpmap:111 opus/48000/2",
                                         "m=video 5002 RTP/AVP 96", "a=rtpmap:96 VP8/90000"]),
        (None, (6000, "h264"), ["m=video 6000 RTP/AVP 96", "a=rtpmap:96 H264/90000",
                                "a=fmtp:96 packetization-mode=1"]),
        ((7000, "pcmu"), None, ["m=audio 7000 RTP/AVP 111", "a=rtpmap:111 PCMU/8000"]),
    ],
)  # fmt: skip
def test_the_sdp_names_each_forwarded_stream_on_loopback(audio, video, media_lines):
    lines = builders.rtp_sdp(audio, video).splitlines()
    assert "c=IN IP4 127.0.0.1" in lines
    assert lines[5:] == media_lines


def test_a_forwarded_run_encodes_to_h264_aac_timeline_segments(tmp_path):
    run = SegmentRun(tmp_path, "e0001r0002")
    argv = builders.rtp_pull_argv("ffmpeg", "x.sdp", "02", run, segment_s=4)
    assert argv[argv.index("-protocol_whitelist") + 1] == "file,udp,rtp"
    assert argv[argv.index("-i") + 1] == "x.sdp"
    assert argv[argv.index("-c:v") + 1] == "libx264" and argv[argv.index("-c:a") + 1] == "aac"
    assert argv[argv.index("-segment_format") + 1] == "mpegts"
    assert "-initial_offset" in argv and "-c" not in argv  # never a stream copy
    assert "-nostdin" not in argv


@pytest.mark.parametrize(
    ("answer", "ids"),
    [
        ({"rtp_stream": {"audio_stream_id": 11, "audio": 5000, "video_stream_id": 12}}, [11, 12]),
        ({"forwarders": [{"stream_id": 7, "mid": "0"}, {"stream_id": 8, "mid": "1"}]}, [7, 8]),
        ({}, []),
    ],
)
def test_the_forwarders_rtp_forward_created(answer, ids):
    assert janus_pull.stream_ids(answer) == ids


def test_a_janus_that_does_not_answer_is_unreachable_not_a_hang():
    client = janus.VideoRoom(f"http://127.0.0.1:{free_port()}/janus", timeout_s=1)
    with pytest.raises(janus.JanusUnreachable, match="connection refused"):
        client.open()


def test_room_ids_are_numbers_unless_they_are_names():
    assert janus.room_key("1234") == 1234
    assert janus.room_key("class 7b") == "class 7b"


def test_the_pin_is_not_in_the_rooms_repr():
    room = janus_pull.JanusRoom(Settings(), "1234", "alice", pin="s3cret-pin")
    assert "s3cret-pin" not in repr(room)


def test_janus_config_is_http_on_loopback_with_videoroom_only(tmp_path):
    files = local_janus.janus_configs(tmp_path, 18088, "farm-key")
    assert set(files) == {"janus.jcfg", "janus.transport.http.jcfg", "janus.plugin.videoroom.jcfg"}
    http = files["janus.transport.http.jcfg"]
    assert 'ip = "127.0.0.1"' in http and "port = 18088" in http and "https = false" in http
    core = files["janus.jcfg"]
    for off in (*local_janus.TRANSPORTS_OFF, *local_janus.PLUGINS_OFF):
        assert f"libjanus_{off}.so" in core
    assert "videoroom" not in core and "libjanus_http" not in core
    assert 'admin_key = "farm-key"' in files["janus.plugin.videoroom.jcfg"]
    assert (
        "admin_key" not in local_janus.janus_configs(tmp_path, 1, "")["janus.plugin.videoroom.jcfg"]
    )


@pytest.mark.parametrize(("backend", "with_janus"), [("janus", True), ("rtmp", False)])
def test_make_run_starts_janus_when_rooms_are_janus_rooms(backend, with_janus):
    settings = Settings(room_backend=backend, janus_url="http://127.0.0.1:18099/janus")
    layout = Layout(Path("/nonexistent"))
    stages = supervisor.plan(settings, supervisor.ports_from(settings), layout, "host")
    names = [command.name for stage in stages for command in stage]
    assert ("janus" in names) is with_janus
    if with_janus:
        (command,) = next(stage for stage in stages if stage[0].name == "janus")
        assert command.ready.target == "http://127.0.0.1:18099/janus/info"
