"""recorder Start (seeds 000/001): record one user's stream of a room to MP3 or MP4."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from workers.common.domain.specs.base import Spec
from workers.common.domain.specs.fields import (
    Between,
    HttpURL,
    Int,
    OptionalSecret,
    SafePath,
    Secret,
    pattern,
    sub_error,
)
from workers.common.domain.specs.snapshots import SnapshotsConfig, recorder_snapshots_need_video

DEFAULT_MAX_DURATION_S = 21600
UINT32_MAX = 4294967295
# TRTC: StrRoomId may hold letters, digits, space and !#$%&()+-:;<=.>?@[]^_{}|~,
STR_ROOM_ID = r"[A-Za-z0-9 !#$%&()+\-:;<=.>?@\[\]^_{}|~,]{1,64}"
STR_ROOM_ID_WHAT = "1-64 letters, digits, spaces or !#$%&()+-:;<=.>?@[]^_{}|~,"
# TRTC: UserId holds letters, digits, '_' and '-', at most 32.
USER_ID = r"[A-Za-z0-9_\-]{1,32}"
USER_ID_WHAT = "1-32 letters, digits, '_' or '-'"


class CosStorage(Spec):
    """Where the recording goes; without SecretId/SecretKey, the farm's own credentials."""

    SecretId: OptionalSecret = None
    SecretKey: OptionalSecret = None
    Region: Annotated[str, Field(min_length=1, max_length=64)]
    Bucket: Annotated[str, Field(min_length=1, max_length=128)]
    Path: Annotated[SafePath, Field(min_length=1)]

    @model_validator(mode="after")
    def _keys_together(self) -> CosStorage:
        if (self.SecretId is None) != (self.SecretKey is None):
            missing = "SecretKey" if self.SecretKey is None else "SecretId"
            raise sub_error(missing, "missing: give SecretId and SecretKey, or neither")
        return self


class RecorderStart(Spec):
    SdkAppId: Annotated[Int, Between(1, UINT32_MAX)]
    RoomId: Annotated[Int, Between(1, UINT32_MAX)] | None = None
    StrRoomId: Annotated[str, pattern(STR_ROOM_ID, STR_ROOM_ID_WHAT)] | None = None
    UserId: Annotated[str, pattern(USER_ID, USER_ID_WHAT)]
    UserSig: Secret
    # Optional here (seeds: required): without it the farm's default storage is used.
    CosConfig: CosStorage | None = None
    Callback: HttpURL | None = None
    Mode: Literal["00", "01", "02"] = "00"
    # Extensions beyond the seeds.
    MaxIdleTime: Annotated[Int, Between(1, 3600)] = 300
    MaxDurationLimit: Annotated[Int, Between(0, 36000)] = DEFAULT_MAX_DURATION_S
    Snapshots: SnapshotsConfig | None = None  # issue 16: stills every N s, and the last
    _snapshots_need_video = model_validator(mode="after")(recorder_snapshots_need_video)

    @model_validator(mode="after")
    def _room(self) -> RecorderStart:
        if self.RoomId is None and self.StrRoomId is None:
            raise ValueError(
                "RoomId or StrRoomId missing: either RoomId or StrRoomId must be configured; "
                "RoomId wins when both are"
            )
        if self.MaxDurationLimit == 0:
            object.__setattr__(self, "MaxDurationLimit", DEFAULT_MAX_DURATION_S)
        return self

    @property
    def room(self) -> str:
        """The room the user is in: RoomId when given, else StrRoomId."""
        return str(self.RoomId) if self.RoomId is not None else str(self.StrRoomId)

    @property
    def unique_key(self) -> str:
        """One recording per user and room at a time."""
        room = self.RoomId if self.RoomId is not None else f"s:{self.StrRoomId}"
        return f"recorder:{self.SdkAppId}:{room}:{self.UserId}"
