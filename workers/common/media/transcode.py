"""The transcode step: closed segments, in order, to the final file by stream copy.

Timeline segments (panorama) carry the recording's timeline (each run starts where the
media before it ended, so the time spent paused, or lost in a takeover, is not in it):
joined byte for byte they are one MPEG-TS stream, remuxed with every packet at its
captured time. Reset segments (recorder) restart at zero and the concat demuxer butts
them together. ``ffmpeg_cmd`` is the ffmpeg to run (Settings.ffmpeg).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from workers.common.domain.errors import Code, FarmFault
from workers.common.media import ffmpeg


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, timeout=3600, check=False)
    if done.returncode != 0:
        tail = " | ".join(done.stderr.decode("utf-8", "replace").strip().splitlines()[-4:])
        raise FarmFault(f"{what} failed (exit {done.returncode}): {tail}", Code.TRANSCODE_FAILED)


def _concat_args(segments: list[Path], out: Path, timeline: bool, ffmpeg_cmd: str) -> list[str]:
    list_file = out.with_name(out.name + ".concat.txt")
    list_file.write_text(ffmpeg.concat_list(segments, timeline=timeline))
    joined = ffmpeg.concat_input(list_file, timeline=timeline)
    return [ffmpeg_cmd, *ffmpeg.base(), *joined]


def to_mp4(
    segments: list[Path],
    out: Path,
    *,
    ffmpeg_cmd: str,
    audio: bool = True,
    video: bool = True,
    timeline: bool = False,
) -> Path:
    """``timeline``: the segments carry the recording's timeline (ffmpeg.segment_output)."""
    args = [
        *_concat_args(segments, out, timeline, ffmpeg_cmd),
        *ffmpeg.mp4_output(out, audio=audio, video=video),
    ]
    _run(args, "MP4")
    return out


def to_mp3(segments: list[Path], out: Path, *, ffmpeg_cmd: str, timeline: bool = False) -> Path:
    argv = [*_concat_args(segments, out, timeline, ffmpeg_cmd), *ffmpeg.mp3_output(out)]
    _run(argv, "MP3 encode")
    return out


def to_hls(
    segments: list[Path],
    playlist: Path,
    seconds: int,
    *,
    ffmpeg_cmd: str,
    key: bytes | None,
    key_uri: str = "",
    timeline: bool = False,
) -> list[Path]:
    """VOD HLS; with ``key`` (16 bytes) every segment is AES-128 encrypted and the
    playlist's key URI is ``key_uri`` (where players fetch the key: AuthUrl)."""
    args = _concat_args(segments, playlist, timeline, ffmpeg_cmd)
    key_info = None
    if key is not None:
        key_file = playlist.with_name(".hls.key")
        key_file.write_bytes(key)
        key_info = playlist.with_name(".hls.keyinfo")
        key_info.write_text(ffmpeg.hls_key_info(key_uri, key_file))
    try:
        _run([*args, *ffmpeg.hls_output(playlist, seconds, key_info=key_info)], "HLS packaging")
    finally:
        for secret in (playlist.with_name(".hls.key"), playlist.with_name(".hls.keyinfo")):
            secret.unlink(missing_ok=True)
    parts = sorted(playlist.parent.glob(playlist.stem + "_*.ts"))
    return [playlist, *parts]
