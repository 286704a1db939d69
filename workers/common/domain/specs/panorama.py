"""panorama Start (seed 004): record a web page at a given size, deliver MP4, HLS or both."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, model_validator

from workers.common.domain.specs.base import Spec
from workers.common.domain.specs.fields import (
    Between,
    HttpURL,
    Int,
    OptionalSecret,
    OptionalText,
    SafePath,
    check_url,
    sub_error,
)
from workers.common.domain.specs.snapshots import SnapshotsConfig

DEFAULT_WIDTH = 1280
DEFAULT_HEIGHT = 720
DEFAULT_MAX_DURATION_S = 21600
_HEX128 = re.compile(r"[0-9a-fA-F]{32}")

MuxerName = Literal["mp4", "hls"]
MUXERS: tuple[MuxerName, ...] = ("mp4", "hls")


def _file_name(value: str) -> str:
    if "/" in value:
        raise ValueError("must be a file name, without '/'")
    return value


class CosOutput(Spec):
    """Output.Cos: where the final file goes (unset fields: the farm's output storage)."""

    Domain: OptionalText = None
    Bucket: OptionalText = None
    Region: OptionalText = None
    TargetDir: Annotated[SafePath | None, Field(max_length=512)] = None
    TargetName: Annotated[SafePath | None, AfterValidator(lambda v: v and _file_name(v))] = None


def _muxers(value: Any) -> Any:
    """Muxer: one format, or a list of formats (at least one, each once)."""
    if not isinstance(value, list):
        if value not in MUXERS:
            raise ValueError("must be one of mp4, hls (or a list of them)")
        return value
    if not value:
        raise ValueError("must list at least one format (mp4, hls)")
    for name in value:
        if name not in MUXERS:
            raise ValueError(f"lists {name!r}: each format must be one of mp4, hls")
    if len(set(value)) < len(value):
        raise ValueError("must not list a format twice")
    return value


MuxerList = Annotated[list[MuxerName], Field(min_length=1, json_schema_extra={"uniqueItems": True})]


class VideoConfig(Spec):
    """Video: the output formats (one file or playlist each, from the same recording),
    and AES-128 for HLS."""

    Muxer: Annotated[
        MuxerName | MuxerList,
        BeforeValidator(_muxers),
        Field(
            description='"mp4" (default), "hls", or a list such as ["mp4", "hls"]: one output '
            "per format, each a Result.Videos item, all packaged from the same recording "
            "(no second encode)."
        ),
    ] = "mp4"
    EncryptKey: OptionalSecret = None
    AuthUrl: HttpURL | None = None

    @property
    def muxers(self) -> tuple[MuxerName, ...]:
        """The formats asked for, in the request's order (the first is Result.Videos[0])."""
        return tuple(self.Muxer) if isinstance(self.Muxer, list) else (self.Muxer,)

    @model_validator(mode="after")
    def _encryption(self) -> VideoConfig:
        if self.EncryptKey is None:
            return self
        if not _HEX128.fullmatch(self.EncryptKey.get_secret_value()):
            raise sub_error("EncryptKey", "must be 32 hex characters (an AES-128 key)")
        if "hls" not in self.muxers:
            raise sub_error("EncryptKey", "needs Muxer hls (MP4 files are not encrypted)")
        if not self.AuthUrl:
            raise sub_error("AuthUrl", "missing: it is required when EncryptKey is given")
        return self


class OutputConfig(Spec):
    Cos: CosOutput | None = None
    # The seed's sample request puts Video under Output; its table lists it at the top.
    Video: VideoConfig | None = None
    Vod: Any = None

    @model_validator(mode="after")
    def _no_vod(self) -> OutputConfig:
        if self.Vod:
            raise sub_error("Vod", "is not supported yet: use Output.Cos or the default storage")
        return self


# Live outputs (issue 16): where the recording is streamed while it is made.
LIVE_SCHEMES = ("rtmp", "rtmps", "srt")
MAX_LIVE_OUTPUTS = 3


def _live_url(value: SecretStr) -> SecretStr:
    # A secret: the stream key in the URL is the credential of the user's channel.
    return SecretStr(check_url(value.get_secret_value(), LIVE_SCHEMES))


class LiveOutput(Spec):
    """One item of LiveOutputs: an RTMP/RTMPS (FLV) or SRT (MPEG-TS) URL, key included."""

    Url: Annotated[SecretStr, AfterValidator(_live_url)]


def _live_outputs(value: list[LiveOutput] | None) -> list[LiveOutput] | None:
    if value is None:
        return None
    if len(value) > MAX_LIVE_OUTPUTS:
        raise ValueError(f"may list at most {MAX_LIVE_OUTPUTS} outputs")
    urls = [item.Url.get_secret_value() for item in value]
    for index, url in enumerate(urls):
        if url in urls[:index]:
            raise ValueError(f"lists the same Url twice (items {urls.index(url)} and {index})")
    return value


class PanoramaStart(Spec):
    RecordURL: HttpURL
    ManualStart: bool = False
    Width: Annotated[Int, Between(0, 2560)] = DEFAULT_WIDTH
    Height: Annotated[Int, Between(0, 2560)] = DEFAULT_HEIGHT
    CallbackURL: HttpURL | None = None
    MaxDurationLimit: Annotated[Int, Between(0, 36000)] = DEFAULT_MAX_DURATION_S
    StorageType: Literal["cos", "cfs"] = "cfs"
    Output: OutputConfig | None = None
    Video: VideoConfig | None = None
    Snapshots: SnapshotsConfig | None = None  # issue 16: stills every N s, and the last
    LiveOutputs: Annotated[list[LiveOutput] | None, AfterValidator(_live_outputs)] = None
    # What live outputs show while the recording is paused ("slate": a "Paused" card).
    PauseFrame: Literal["black", "slate"] = "black"

    @model_validator(mode="after")
    def _defaults(self) -> PanoramaStart:
        # 0 means "the default" (seeds): store the figure the worker will use.
        for name, default in (
            ("Width", DEFAULT_WIDTH),
            ("Height", DEFAULT_HEIGHT),
            ("MaxDurationLimit", DEFAULT_MAX_DURATION_S),
        ):
            if getattr(self, name) == 0:
                object.__setattr__(self, name, default)
        if self.Video is not None and self.Output is not None and self.Output.Video is not None:
            raise ValueError("Video given twice: use Video or Output.Video, not both")
        return self

    @property
    def video(self) -> VideoConfig:
        """The Video settings wherever the request put them."""
        if self.Video is not None:
            return self.Video
        if self.Output is not None and self.Output.Video is not None:
            return self.Output.Video
        return VideoConfig()

    @property
    def live_urls(self) -> list[str]:
        """The live outputs' URLs (secrets: never log them, see workers/panorama/live.py)."""
        return [item.Url.get_secret_value() for item in self.LiveOutputs or ()]

    @property
    def cos(self) -> CosOutput:
        return (self.Output.Cos if self.Output else None) or CosOutput()
