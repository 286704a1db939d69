"""The ffmpeg builders are pure: the same inputs give the same argument lists."""

from pathlib import Path

import pytest

from workers.common.media import ffmpeg


def test_a_segment_run_names_sort_in_recording_order():
    runs = [
        ffmpeg.SegmentRun(Path("/s"), f"e{e:04d}r{r:04d}") for e, r in [(1, 2), (2, 1), (1, 10)]
    ]
    names = sorted(str(run.pattern) for run in runs)
    assert names == ["/s/e0001r0002_%05d.ts", "/s/e0001r0010_%05d.ts", "/s/e0002r0001_%05d.ts"]


def test_segment_output_writes_ts_segments_with_a_csv_list_and_fresh_timestamps():
    run = ffmpeg.SegmentRun(Path("/seg"), "e0001r0001")
    args = ffmpeg.segment_output(run, 4)
    assert args[:2] == ["-f", "segment"]
    assert args[args.index("-segment_time") + 1] == "4"
    assert args[args.index("-segment_format") + 1] == "mpegts"
    assert args[args.index("-reset_timestamps") + 1] == "1"
    assert "-initial_offset" not in args


def test_timeline_segments_keep_their_timestamps():
    run = ffmpeg.SegmentRun(Path("/seg"), "e0001r0001")
    args = ffmpeg.segment_output(run, 4, timeline_offset_s=0.0)
    assert "-reset_timestamps" not in args  # a reset per segment slips the sound (drift)
    assert args[args.index("-initial_offset") + 1] == "0.000000"
    assert args[args.index("-segment_list") + 1] == "/seg/e0001r0001.csv"
    assert args[args.index("-segment_list_type") + 1] == "csv"
    assert args[-1] == "/seg/e0001r0001_%05d.ts"


@pytest.mark.parametrize(
    ("fps", "keyframe_s", "gop"),
    [(30, 4, "120"), (25, 2, "50"), (15, 6, "90")],
)
def test_h264_encode_puts_a_keyframe_on_every_segment_boundary(fps, keyframe_s, gop):
    args = ffmpeg.h264_encode(fps, keyframe_s)
    assert args[args.index("-g") + 1] == gop
    assert args[args.index("-force_key_frames") + 1] == f"expr:gte(t,n_forced*{keyframe_s})"
    assert args[args.index("-pix_fmt") + 1] == "yuv420p"
    assert args[args.index("-c:a") + 1] == "aac"


def test_ends_base_is_after_both_streams():
    assert ffmpeg.Ends(audio_s=10.5, video_s=10.55).base_s == 10.55
    assert ffmpeg.Ends().base_s == 0.0


def test_a_run_knows_its_last_closed_segment(tmp_path):
    run = ffmpeg.SegmentRun(tmp_path, "e0001r0001")
    assert run.last_closed() is None
    for name in ("e0001r0001_00000.ts", "e0001r0001_00001.ts"):
        (tmp_path / name).write_bytes(b"\x47" * 188)
    (tmp_path / "e0001r0001_00002.ts").write_bytes(b"")  # closed before its first packet
    run.list_path.write_text(
        "e0001r0001_00000.ts,0.0,4.0\ne0001r0001_00001.ts,4.0,8.0\n"
        "e0001r0001_00002.ts,8.0,8.0\ne0001r0001_00003.ts,8.0"  # being written
    )
    assert run.last_closed() == tmp_path / "e0001r0001_00001.ts"


def test_concat_list_for_timeline_segments_is_one_absolute_path_a_line(tmp_path):
    odd = tmp_path / "it's here.ts"
    both = ffmpeg.concat_list([odd, tmp_path / "b.ts"], timeline=True)
    assert both == f"{odd.resolve()}\n{tmp_path.resolve()}/b.ts\n"
    with pytest.raises(ValueError, match="line break"):
        ffmpeg.concat_list([tmp_path / "a\nb.ts"], timeline=True)


def test_concat_list_for_the_demuxer_quotes_awkward_paths(tmp_path):
    odd = tmp_path / "it's here.ts"
    text = ffmpeg.concat_list([odd], timeline=False)
    quoted = str(odd.resolve()).replace("'", "'\\''")
    assert text == f"file '{quoted}'\n"


@pytest.mark.parametrize(
    ("audio", "video", "picks"),
    [(True, True, []), (False, True, ["-an"]), (True, False, ["-vn"])],
)
def test_mp4_output_copies_streams_with_faststart(audio, video, picks):
    args = ffmpeg.mp4_output(Path("/o/x.mp4"), audio=audio, video=video)
    assert args == [*picks, "-c", "copy", "-movflags", "+faststart", "-y", "/o/x.mp4"]


def test_mp3_output_encodes_audio_only():
    assert ffmpeg.mp3_output(Path("/o/a.mp3")) == [
        "-vn", "-c:a", "libmp3lame", "-b:a", "128k", "-y", "/o/a.mp3",
    ]  # fmt: skip


def test_hls_output_is_vod_and_encrypts_only_with_a_key_info_file():
    plain = ffmpeg.hls_output(Path("/o/rec.m3u8"), 4)
    assert "-hls_key_info_file" not in plain
    assert plain[plain.index("-hls_playlist_type") + 1] == "vod"
    assert plain[plain.index("-hls_segment_filename") + 1] == "/o/rec_%05d.ts"
    secret = ffmpeg.hls_output(Path("/o/rec.m3u8"), 4, key_info=Path("/o/k.info"))
    assert secret[secret.index("-hls_key_info_file") + 1] == "/o/k.info"
    assert secret[-1] == "/o/rec.m3u8"


def test_hls_key_info_names_the_uri_players_fetch_then_the_local_key():
    assert ffmpeg.hls_key_info("https://k/enc.key", Path("/o/.k")) == "https://k/enc.key\n/o/.k\n"


def test_base_keeps_stdin_open_only_when_asked():
    assert "-nostdin" in ffmpeg.base()
    assert "-nostdin" not in ffmpeg.base(interactive=True)
