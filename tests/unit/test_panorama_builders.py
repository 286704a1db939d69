"""panorama's pure parts: command lines, sizes, names, destinations, progress, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import Settings
from workers.common.delivery.storage import LocalStorage, S3Storage
from workers.common.domain.specs.panorama import CosOutput, PanoramaStart
from workers.common.media.ffmpeg import Ends, SegmentRun
from workers.panorama import builders, output
from workers.panorama.browser import load_failure
from workers.panorama.builders import Frame
from workers.panorama.capture import Figures, read_progress

RUN = SegmentRun(Path("/w/segments"), "e0001r0002")
ENCODER = builders.Encoder.of(Settings())


def value_after(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


@pytest.mark.parametrize(
    ("width", "height", "encoded", "screen"),
    [
        (1280, 720, (1280, 720), (1281, 721)),
        (641, 361, (642, 362), (642, 362)),
        (2560, 2560, (2560, 2560), (2561, 2561)),
        (1, 2, (2, 2), (2, 3)),
    ],
)
def test_frame_sizes(width, height, encoded, screen):
    frame = Frame(width, height)
    assert frame.encoded == encoded
    assert frame.screen == screen


def test_xvfb_writes_its_display_number_to_stderr_with_a_screen_one_pixel_larger():
    argv = builders.xvfb(Frame(640, 360))
    assert argv[0] == "Xvfb"
    assert value_after(argv, "-displayfd") == "2"
    assert argv[argv.index("-screen") + 2] == "641x361x24"
    assert value_after(argv, "-nolisten") == "tcp"


def test_pulseaudio_is_private_to_its_socket_with_one_null_sink():
    argv = builders.pulseaudio(Path("/tmp/pa/native"))
    assert "-n" in argv and "--daemonize=no" in argv and "--exit-idle-time=-1" in argv
    loads = [a.removeprefix("--load=") for a in argv if a.startswith("--load=")]
    assert loads == [
        "module-native-protocol-unix socket=/tmp/pa/native auth-anonymous=1",
        "module-null-sink sink_name=capture rate=48000 channels=2",
    ]
    env = builders.pulse_env(Path("/tmp/pa"))
    assert env["HOME"] == env["PULSE_RUNTIME_PATH"] == env["XDG_RUNTIME_DIR"] == "/tmp/pa"


def test_the_sink_is_kept_rendering_in_10_ms_blocks_by_a_listener():
    argv = builders.sink_listener("unix:/tmp/pa/native")
    assert argv[0] == "parec"
    assert "--server=unix:/tmp/pa/native" in argv and "--device=capture.monitor" in argv
    assert "--latency-msec=10" in argv


def test_chromium_args_kiosk_at_the_size_with_sound_and_no_scrollbars():
    args = builders.chromium_args(Frame(800, 600), "http://127.0.0.1:3128")
    for flag in (
        "--kiosk",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--autoplay-policy=no-user-gesture-required",
        "--window-position=0,0",
        "--window-size=800,600",
    ):
        assert flag in args
    assert builders.CHROMIUM_DROPPED_DEFAULTS == ["--enable-automation"]


def test_chromium_sends_every_request_loopback_included_through_the_page_proxy():
    args = builders.chromium_args(Frame(800, 600), "http://127.0.0.1:3128")
    assert "--proxy-server=http://127.0.0.1:3128" in args
    assert "--proxy-bypass-list=<-loopback>" in args


def capture(frame: Frame, run: SegmentRun = RUN, encoder: builders.Encoder = ENCODER) -> list[str]:
    return builders.capture(
        frame,
        ":7",
        "unix:/tmp/pa/native",
        run=run,
        segment_seconds=4,
        progress=Path("/w/p"),
        wallclock_s=1700000000.25,
        encoder=encoder,
    )


def test_capture_grabs_the_display_and_the_sink_monitor_into_segments():
    argv = capture(Frame(1280, 720))
    assert "-nostdin" not in argv  # 'q' on stdin ends a run cleanly
    assert value_after(argv, "-progress") == "/w/p"
    x11 = argv.index("x11grab")
    assert value_after(argv[x11:], "-video_size") == "1280x720"
    # two of Chromium's 16666 us frames a tick, and the file's frame clock the same
    assert value_after(argv[x11:], "-framerate") == "1000000/33332"
    assert value_after(argv[argv.index("-c:v") :], "-r") == "1000000/33332"
    assert value_after(argv[x11:], "-draw_mouse") == "0"
    assert value_after(argv[x11:], "-thread_queue_size") == "32"  # ~1 s of frames, bounded
    assert value_after(argv[x11:], "-i") == ":7.0+0,0"
    pulse = argv.index("pulse")
    assert value_after(argv[pulse:], "-server") == "unix:/tmp/pa/native"
    assert value_after(argv[pulse:], "-i") == "capture.monitor"
    assert value_after(argv, "-c:v") == "libx264" and value_after(argv, "-c:a") == "aac"
    assert value_after(argv, "-tune") == "zerolatency"
    assert value_after(argv, "-g") == "120"
    assert "pad=" not in value_after(argv, "-filter_complex")
    assert argv[-1] == "/w/segments/e0001r0002_%05d.ts"
    assert value_after(argv, "-segment_list") == "/w/segments/e0001r0002.csv"


@pytest.mark.parametrize(("preset", "crf"), [("ultrafast", 20), ("superfast", 23), ("medium", 30)])
def test_capture_encodes_with_the_x264_preset_and_crf_of_the_settings(preset, crf):
    settings = Settings(panorama_x264_preset=preset, panorama_x264_crf=crf)
    argv = capture(Frame(1280, 720), encoder=builders.Encoder.of(settings))
    encode = argv[argv.index("-c:v") : argv.index("-c:a")]
    assert value_after(encode, "-preset") == preset
    assert value_after(encode, "-crf") == str(crf)
    assert value_after(encode, "-pix_fmt") == "yuv420p"  # what every player decodes


@pytest.mark.parametrize("setting", [{"panorama_x264_preset": "turbo"}, {"panorama_x264_crf": 52}])
def test_an_unknown_x264_preset_or_crf_is_refused_at_start_up(setting):
    with pytest.raises(ValueError, match="panorama_x264"):
        Settings(**setting)


def test_capture_keeps_both_capture_clocks_and_starts_both_at_the_run_zero():
    argv = capture(Frame(1280, 720))
    assert "-copyts" in argv[: argv.index("-i")]  # ffmpeg would zero each input on its own
    pulse = argv.index("pulse")
    assert value_after(argv[pulse:], "-use_wallclock_as_timestamps") == "1"
    video, audio = value_after(argv, "-filter_complex").split(";")
    # the zero is the warm-up after the given wall time; what came before it is trimmed
    assert builders.WARMUP_S == 1.0
    assert video.startswith("[0:v]setpts=PTS-1700000001.250000/TB,trim=start=0,")
    # each frame in the grid slot of its grab time, the grid starting at the zero
    assert ",fps=fps=1000000/33332:start_time=0:round=near," in video
    assert audio.startswith("[1:a]asetpts=PTS-NB_SAMPLES/SR/TB-1700000001.250000/TB,atrim=start=0,")
    # the sample count follows the clock, from the zero (silence if the sound opens late)
    # (the resampler built at once: built lazily it went back to first_pts and padded twice)
    assert "aresample=async=1000:first_pts=0:flags=res," in audio
    assert audio.endswith("asetpts=N/SR/TB+STARTPTS[a]")
    assert argv[argv.index("-map") : argv.index("-map") + 4] == ["-map", "[v]", "-map", "[a]"]


def test_a_resumed_run_starts_where_the_sound_before_it_ended():
    resumed = SegmentRun(Path("/w/segments"), "e0001r0003", Ends(audio_s=12.5, video_s=12.52))
    argv = capture(Frame(1280, 720), resumed)
    assert value_after(argv, "-initial_offset") == "12.500000"


def test_capture_pads_an_odd_size_to_even():
    argv = capture(Frame(641, 361))
    assert value_after(argv, "-video_size") == "641x361"
    # padded as grabbed, then converted for the encoder
    assert "pad=642:362:0:0:black,scale=flags=neighbor,format=yuv420p[v]" in value_after(
        argv, "-filter_complex"
    )


def test_capture_converts_to_yuv420p_with_chroma_at_the_nearest_pixel():
    video = value_after(capture(Frame(1280, 720)), "-filter_complex").split(";")[0]
    assert video.endswith(",scale=flags=neighbor,format=yuv420p[v]")


@pytest.mark.parametrize(
    ("width", "height", "threads"),
    [(1280, 720, "1"), (640, 360, "1"), (1281, 720, None), (1920, 1080, None)],
)
def test_x264_encodes_in_one_thread_up_to_1280x720(width, height, threads):
    argv = capture(Frame(width, height))
    encode = argv[argv.index("-c:v") : argv.index("-c:a")]
    assert (value_after(encode, "-threads:v") if "-threads:v" in encode else None) == threads


@pytest.mark.parametrize(
    ("target", "muxer", "name"),
    [
        (None, "mp4", "1700000000.mp4"),
        (None, "hls", "1700000000.m3u8"),
        ("record-file-name.mp4", "mp4", "record-file-name.mp4"),
        ("record-file-name.mp4", "hls", "record-file-name.m3u8"),
        ("class 3", "mp4", "class 3.mp4"),
        ("v1.2", "hls", "v1.2.m3u8"),
    ],
)
def test_file_name(target, muxer, name):
    assert output.file_name(target, 1700000000, muxer) == name


def test_destination_is_the_bucket_with_its_domain_and_dir():
    settings = Settings(s3_endpoint_url="http://127.0.0.1:9000")
    cos = CosOutput(Bucket="webrecord", Region="ap-shanghai", Domain="cdn.example.com",
                    TargetDir="11234/")  # fmt: skip
    where = output.destination(settings, cos, "task-1")
    assert isinstance(where.storage, S3Storage)
    assert where.storage.where.bucket == "webrecord"
    assert where.storage.where.region == "ap-shanghai"
    assert where.directory == "11234"
    assert where.storage.url("11234/a.mp4") == "https://cdn.example.com/11234/a.mp4"


def test_destination_defaults_to_the_farm_storage_under_the_task_id(tmp_path):
    settings = Settings(data_dir=tmp_path)
    where = output.destination(settings, PanoramaStart(RecordURL="https://a.example").cos, "t-9")
    assert isinstance(where.storage, LocalStorage)
    assert where.directory == "t-9"


def test_read_progress_takes_the_last_complete_block(tmp_path):
    block = "frame={f}\nfps=30\nout_time_us={t}\ndup_frames={d}\ndrop_frames=1\nprogress=continue\n"
    path = tmp_path / "p"
    path.write_text(block.format(f=30, t=1000000, d=0) + block.format(f=60, t=2000000, d=2)
                    + "frame=90\nfps=30\n")  # fmt: skip
    assert read_progress(path) == Figures(frames=60, dup=2, drop=1, out_time_s=2.0)
    assert read_progress(tmp_path / "missing") == Figures()


def test_read_progress_of_a_long_file_reads_its_end(tmp_path):
    block = "frame={f}\nout_time_us=1\ndup_frames=0\ndrop_frames=0\nprogress=continue\n"
    path = tmp_path / "p"
    path.write_text("".join(block.format(f=n) for n in range(5000)))
    assert read_progress(path).frames == 4999


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            "Page.goto: net::ERR_NAME_NOT_RESOLVED at http://x.invalid/",
            "(net::ERR_NAME_NOT_RESOLVED)",
        ),
        ("Page.goto: net::ERR_CONNECTION_REFUSED at http://x/", "(net::ERR_CONNECTION_REFUSED)"),
        ("Timeout 8000ms exceeded.\n=== logs ===", "did not load within 8s"),
    ],
)
def test_load_failure_messages(error, reason):
    message = load_failure("http://x/", RuntimeError(error), 8)
    assert message.startswith("RecordURL http://x/")
    assert reason in message
