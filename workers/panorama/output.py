"""Where the recording goes (Output.Cos or the farm's storage) and what it is called.

TargetDir defaults to the TaskID and TargetName to the stop timestamp; the extension
follows the Muxer (a TargetName "class.mp4" with Muxer hls gives "class.m3u8"). Muxer
["mp4", "hls"] gives both, "class.mp4" and "class.m3u8" (with its "class_00000.ts" parts),
each packaged from the same closed segments by stream copy: nothing is encoded twice.
"""

from __future__ import annotations

from pathlib import Path

from config.settings import Settings
from workers.common.delivery.storage import S3Storage, default_output, farm_s3
from workers.common.domain.specs.panorama import CosOutput, MuxerName, VideoConfig
from workers.common.media import transcode
from workers.common.runtime.session import Destination

_MEDIA_SUFFIXES = (".mp4", ".m3u8", ".ts", ".flv", ".webm")


def file_name(target_name: str | None, stop_time: int, muxer: MuxerName) -> str:
    suffix = ".m3u8" if muxer == "hls" else ".mp4"
    name = target_name or str(stop_time)
    if Path(name).suffix.lower() in _MEDIA_SUFFIXES:
        name = name[: -len(Path(name).suffix)]
    return name + suffix


def destination(settings: Settings, cos: CosOutput, task_id: str) -> Destination:
    """Output.Cos.Bucket (on the farm's S3 endpoint), else the farm's output storage."""
    directory = (cos.TargetDir or "").strip("/") or task_id
    bucket = cos.Bucket or (settings.s3_bucket if settings.storage == "s3" else "")
    if bucket:
        where = farm_s3(settings, bucket, cos.Region or "", cos.Domain or "")
        return Destination(S3Storage(where), directory)
    return Destination(default_output(settings), directory)


def package_all(
    segments: list[Path],
    out_dir: Path,
    video: VideoConfig,
    *,
    target_name: str | None,
    stop_time: int,
    segment_seconds: int,
    ffmpeg_cmd: str,
) -> list[Path]:
    """One output per Muxer, in the request's order: each main file followed by its parts
    (an HLS playlist's segments), as the runtime's upload expects them."""
    files: list[Path] = []
    for muxer in video.muxers:
        out = out_dir / file_name(target_name, stop_time, muxer)
        files += package(segments, out, muxer, video, segment_seconds, ffmpeg_cmd=ffmpeg_cmd)
    return files


def package(
    segments: list[Path],
    out: Path,
    muxer: MuxerName,
    video: VideoConfig,
    segment_seconds: int,
    *,
    ffmpeg_cmd: str,
) -> list[Path]:
    """The closed segments to one MP4 (moov first) or one HLS playlist with its parts
    (AES-128 when the Video has an EncryptKey: only HLS is ever encrypted)."""
    if muxer != "hls":
        return [transcode.to_mp4(segments, out, ffmpeg_cmd=ffmpeg_cmd, timeline=True)]
    key = bytes.fromhex(video.EncryptKey.get_secret_value()) if video.EncryptKey else None
    return transcode.to_hls(
        segments,
        out,
        segment_seconds,
        ffmpeg_cmd=ffmpeg_cmd,
        key=key,
        key_uri=video.AuthUrl or "",
        timeline=True,
    )
