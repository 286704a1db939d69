"""The pusher's pure parts: ffmpeg/ffprobe command lines, the timeline, the progress key,
and reading why a run failed from ffmpeg's messages."""

from __future__ import annotations

import hashlib

import pytest

from workers.pusher import builders
from workers.pusher.builders import CodecPlan, PushInput
from workers.pusher.progress import progress_key
from workers.pusher.push import PushRun, failure_of
from workers.pusher.timeline import Passes, RunPlan, Spot

ROOM = "rtmp://127.0.0.1:1935/live/1400000000_8848_u1"


def window(argv, flag, width=1):
    index = argv.index(flag)
    return argv[index + 1 : index + 1 + width]


@pytest.mark.parametrize(
    ("plan", "video", "audio"),
    [
        (CodecPlan("h264", "aac"), ["-c:v", "copy"], ["-c:a", "copy"]),
        (CodecPlan("mpeg4", "mp3"), ["-c:v", "libx264"], ["-c:a", "aac"]),
        (CodecPlan("h264", "mp3"), ["-c:v", "copy"], ["-c:a", "aac"]),
        (CodecPlan("vp9", "aac"), ["-c:v", "libx264"], ["-c:a", "copy"]),
        (CodecPlan(None, "aac"), None, ["-c:a", "copy"]),
        (CodecPlan("h264", None), ["-c:v", "copy"], None),
    ],
)
def test_h264_aac_are_copied_and_anything_else_is_encoded(plan, video, audio):
    argv = builders.push_argv("ffmpeg", PushInput("in.mp4"), plan, ROOM)
    assert (["-c:v", *window(argv, "-c:v")] if "-c:v" in argv else None) == video
    assert (["-c:a", *window(argv, "-c:a")] if "-c:a" in argv else None) == audio
    assert ("-map" in argv and "0:v:0" in argv) == (video is not None)
    assert plan.copies_all == (
        video in (None, ["-c:v", "copy"]) and audio in (None, ["-c:a", "copy"])
    )


def test_a_file_is_read_in_real_time_from_its_position_and_published_as_flv():
    argv = builders.push_argv(
        "ffmpeg", PushInput("in.mp4", start_s=12.5), CodecPlan("h264", "aac"), ROOM
    )
    assert argv[0] == "ffmpeg" and argv[-3:] == ["-f", "flv", ROOM]
    assert argv.index("-re") < argv.index("-ss") < argv.index("-i")
    assert window(argv, "-ss") == ["12.500"] and window(argv, "-i") == ["in.mp4"]
    assert window(argv, "-progress", 3) == ["pipe:2", "-stats_period", "0.5"]
    assert "-nostdin" not in argv  # 'q' on stdin ends it cleanly


@pytest.mark.parametrize(
    ("source", "present", "absent"),
    [
        (PushInput("rtmp://h/live/s", live=True), ["-rw_timeout"], ["-re", "-ss", "-stream_loop"]),
        (PushInput("in.mp4"), ["-re"], ["-ss", "-stream_loop", "-reconnect"]),
        (PushInput("in.mp4", loops=-1), ["-re", "-stream_loop"], ["-ss"]),
        (PushInput("https://h/a.mp4"), ["-re", "-reconnect", "-rw_timeout"], ["-ss"]),
    ],
)
def test_input_options_by_source(source, present, absent):
    args = builders.input_args(source)
    assert args[-2:] == ["-i", source.url]
    assert all(flag in args for flag in present)
    assert not any(flag in args for flag in absent)


def test_a_loop_is_only_from_the_start_of_the_file():
    assert window(builders.input_args(PushInput("a.mp4", loops=2)), "-stream_loop") == ["2"]
    with pytest.raises(ValueError):
        builders.input_args(PushInput("a.mp4", start_s=3, loops=1))


def test_probe_command_lines():
    assert builders.probe_argv("ffprobe", "a.mp4")[-1] == "a.mp4"
    assert "-rw_timeout" in builders.probe_argv("ffprobe", "rtmp://h/l/s", live=True)
    argv = builders.keyframe_argv("ffprobe", "a.mp4", 10)
    assert window(argv, "-read_intervals") == ["10.000%+#1"]
    assert window(argv, "-select_streams") == ["v:0"]


@pytest.mark.parametrize(
    ("plan", "out_time", "spot"),
    [
        (RunPlan(0, 0, 30), 10, Spot(10, 0)),
        (RunPlan(9.5, 0, 30), 2, Spot(11.5, 0)),
        (RunPlan(20, 0, 30), 10.2, Spot(30, 1)),
        (RunPlan(0, 1, 5), 7, Spot(2, 1)),
        (RunPlan(0, 1, 5), 10.1, Spot(5, 2)),
        (RunPlan(0, -1, 5), 23, Spot(3, 4)),
        (RunPlan(4, 0, None), 6, Spot(10, 0)),
    ],
)
def test_where_a_run_is_in_the_file(plan, out_time, spot):
    found = plan.spot(out_time)
    assert found.passes_done == spot.passes_done
    assert found.position_s == pytest.approx(spot.position_s)


def test_passes_count_loop_more_after_the_first():
    once = Passes(0)
    assert (once.left, once.extra_for_run(0), once.finished) == (0, 0, False)
    once.done = 1
    assert once.finished
    twice = Passes(1, done=0)
    assert twice.extra_for_run(0) == 1 and twice.extra_for_run(2.5) == 0
    twice.done = 1
    assert not twice.finished and twice.left == 0
    assert Passes(-1, done=99).extra_for_run(0) == -1 and not Passes(-1, done=99).finished


def test_the_progress_key_is_the_sha256_of_source_and_target():
    digest = hashlib.sha256(b"s3://b/k.mp4|1400000000|8848|u1").hexdigest()
    assert (
        progress_key("s3://b/k.mp4", "1400000000", "8848", "u1")
        == f"capstan:push:progress:{digest}"
    )
    assert progress_key("s3://b/k.mp4", "1400000000", "8848", "u2") != progress_key(
        "s3://b/k.mp4", "1400000000", "8848", "u1"
    )


def feed(lines):
    run = PushRun("t", ["true"])
    for line in lines:
        run._line(line)
    return run


def test_progress_lines_move_the_position_and_the_rest_is_kept():
    run = feed(["out_time_us=N/A", "frame=10", "out_time_us=1500000", "progress=continue",
                "[flv @ 0x1] Failed to update header",
                "out_time_us=2500000", "progress=end"])  # fmt: skip
    assert run.out_time_s == 2.5 and run.flowing
    assert run.messages() == ["[flv @ 0x1] Failed to update header"]


@pytest.mark.parametrize(
    ("lines", "side", "reason"),
    [
        (["[rtmp @ 0x5630b7737e00] Server error: Already publishing",
          f"{ROOM}: Operation not permitted"], "room",
         "Server error: Already publishing; Operation not permitted"),
        (["[http @ 0x1] HTTP error 404 File not found",
          "http://h/a.mp4: Server returned 404 Not Found"], "source",
         "HTTP error 404 File not found; Server returned 404 Not Found"),
        (["av_interleaved_write_frame(): Broken pipe",
          f"Error writing trailer of {ROOM}: Broken pipe"],
         "room", "Broken pipe"),
        (["something odd"], "", "ffmpeg exited with code None: something odd"),
    ],
)  # fmt: skip
def test_which_side_failed_is_read_from_the_url_ffmpeg_names(lines, side, reason):
    failure = failure_of(feed(lines), "http://h/a.mp4", ROOM)
    assert (failure.side, failure.message) == (side, reason)


def test_a_webrtc_push_encodes_vp8_opus_and_waits_for_the_publisher_on_loopback():
    plan = CodecPlan("h264", "aac", may_copy=False)
    argv = builders.webrtc_push_argv("ffmpeg", PushInput("in.mp4", start_s=12.0), plan, 40123)
    assert not plan.copy_video and not plan.copy_audio  # a VideoRoom carries VP8/Opus
    assert window(argv, "-c:v") == ["libvpx"] and window(argv, "-c:a") == ["libopus"]
    assert window(argv, "-lag-in-frames") == ["0"]  # no look-ahead: real time
    assert window(argv, "-threads") == ["1"]  # libvpx's threads spin against each other
    assert window(argv, "-ss") == ["12.000"] and "-re" in argv
    assert argv[-3:] == ["-f", "matroska", "tcp://127.0.0.1:40123?listen=1"]


def test_an_audio_only_webrtc_push_publishes_audio_only():
    plan = CodecPlan(None, "mp3", may_copy=False)
    argv = builders.webrtc_push_argv("ffmpeg", PushInput("in.mp3"), plan, 40124)
    assert "-c:v" not in argv and window(argv, "-c:a") == ["libopus"]
    room = builders.WebRtcRoom("http://j/janus", "5", "bob", "pin", 5)
    publisher = builders.publisher_argv(40124, room, plan)
    assert "--audio" in publisher and "--video" not in publisher


def test_the_room_publisher_gets_no_secret_on_its_command_line():
    plan = CodecPlan("h264", "aac", may_copy=False)
    room = builders.WebRtcRoom("http://j/janus", "5", "bob", "s3cret-pin", 5)
    argv = builders.publisher_argv(40125, room, plan)
    assert window(argv, "--media") == ["tcp://127.0.0.1:40125"]
    assert window(argv, "--janus", 3) == ["http://j/janus", "--room", "5"]
    assert window(argv, "--display") == ["bob"] and not any("s3cret" in a for a in argv)
    assert "s3cret" not in repr(room)


def test_with_a_whip_url_the_publisher_signals_through_whip():
    plan = CodecPlan("h264", "aac", may_copy=False)
    room = builders.WebRtcRoom("", "5", "bob", "tok", 5, whip_url="http://w/whip/endpoint/5")
    argv = builders.publisher_argv(40126, room, plan)
    assert window(argv, "--whip") == ["http://w/whip/endpoint/5"] and "--janus" not in argv
