"""Snapshots (issue 16): still images of the recording every IntervalSeconds, and one of
its last frame, stored beside the recording (panorama and recorder Starts, optional)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from workers.common.domain.specs.base import Spec
from workers.common.domain.specs.fields import Between, Int

DEFAULT_MAX_COUNT = 360  # an hour at one every 10 s
MAX_COUNT = 3600  # the longest recording (36000 s) at one every 10 s


class SnapshotsConfig(Spec):
    """`Snapshots`: a frame at 0, N, 2N... seconds of the recording, and its last frame.

    MaxCount caps them all, the last frame's included: after MaxCount - 1 periodic
    snapshots no more are taken (Describe says so), and the last frame still is."""

    IntervalSeconds: Annotated[Int, Between(1, 3600)]
    Format: Literal["jpg", "png"] = "jpg"
    MaxCount: Annotated[Int, Between(1, MAX_COUNT)] = DEFAULT_MAX_COUNT


def recorder_snapshots_need_video(spec: Any) -> Any:
    """RecorderStart's check: Mode 00 records sound only, there is no frame to take."""
    if spec.Snapshots is not None and spec.Mode == "00":
        raise ValueError("Snapshots needs video: use Mode 01 or 02 (Mode 00 records audio only)")
    return spec
