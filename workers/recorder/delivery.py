"""Where the recording goes, and the seeds' answer about it.

Seeds 000/001: after the recording stops, the callback (and here Describe's Result) carry
``{SdkAppId, RoomId, StrRoomId, UserId, Files: [{UserId, RecordFile, Status, Message}]}``,
every id a string, Status 1 (success) or 0 (failure), Message what failed.
"""

from __future__ import annotations

from typing import Any

from config.settings import Settings
from workers.common.delivery.storage import S3Location, S3Storage, default_output
from workers.common.domain.specs.recorder import RecorderStart
from workers.common.runtime.session import Destination, UploadedFile

SEEDS_KEYS = ("SdkAppId", "RoomId", "StrRoomId", "UserId", "Files")
SUCCESS = "success"


def destination(spec: RecorderStart, settings: Settings, task_id: str) -> Destination:
    """CosConfig's bucket and path through the farm's S3 endpoint, else the default output.

    The request's own SecretId/SecretKey when given, else the farm's credentials.
    """
    cos = spec.CosConfig
    if cos is None:
        return Destination(default_output(settings), task_id)
    where = S3Location(
        bucket=cos.Bucket,
        region=cos.Region,
        endpoint_url=settings.s3_endpoint_url,
        access_key=cos.SecretId.get_secret_value() if cos.SecretId else settings.s3_access_key,
        secret_key=cos.SecretKey.get_secret_value() if cos.SecretKey else settings.s3_secret_key,
    )
    return Destination(S3Storage(where), cos.Path.strip("/"))


def seeds_body(spec: RecorderStart, files: list[UploadedFile], error: str) -> dict[str, Any]:
    """The seeds' result body. Without a file, one entry with Status 0 says what failed."""
    return {
        "SdkAppId": str(spec.SdkAppId),
        "RoomId": "" if spec.RoomId is None else str(spec.RoomId),
        "StrRoomId": spec.StrRoomId or "",
        "UserId": spec.UserId,
        "Files": [file_entry(spec.UserId, files[0] if files else None, error)],
    }


def file_entry(user_id: str, file: UploadedFile | None, error: str) -> dict[str, Any]:
    return {
        "UserId": user_id,
        "RecordFile": file.url if file else "",
        "Status": 1 if file else 0,
        "Message": error or (SUCCESS if file else "recording failed: nothing was recorded"),
    }
