"""The levers bench/density.py measures against the bare pipeline, and the encoders whose
picture quality it measures (the bare one, the farm's own, and the candidates)."""

from __future__ import annotations

from bench.bare import BARE_VIDEO, Variant
from config.settings import Settings
from workers.panorama import builders


def x264(preset: str, crf: int, *extra: str) -> tuple[str, ...]:
    """The bare encoder with another preset and CRF (and x264 options)."""
    video = list(BARE_VIDEO)
    video[video.index("-preset") + 1] = preset
    video[video.index("-crf") + 1] = str(crf)
    return (*video, *extra)


def farm_video() -> tuple[str, ...]:
    """The farm's video encoder as the capture builder writes it at 1280x720 (less its frame
    clock), its colour conversion first."""
    frame = builders.Frame(1280, 720)
    encode = builders.encode_args(builders.Encoder.of(Settings()), 4, frame=frame)
    video = encode[encode.index("-c:v") : encode.index("-c:a")]
    at = video.index("-r")
    return ("-vf", builders.TO_YUV420, *video[:at], *video[at + 2 :])


NEIGHBOR = ("-vf", builders.TO_YUV420)  # the farm's colour conversion

ENCODERS = (
    Variant("bare: veryfast crf23"),
    Variant("farm: ultrafast crf23 threads1 neighbor", video=farm_video()),
    Variant("ultrafast crf23", video=x264("ultrafast", 23)),
    Variant("ultrafast crf23 threads1", video=x264("ultrafast", 23, "-threads", "1")),
    Variant("veryfast crf23 neighbor", before_encode=NEIGHBOR),
    Variant("superfast crf23", video=x264("superfast", 23)),
)

LEVERS = (
    # the encoder
    Variant("x264 superfast", video=x264("superfast", 23)),
    Variant("x264 ultrafast", video=x264("ultrafast", 23)),
    Variant("x264 ultrafast threads=1", video=x264("ultrafast", 23, "-threads", "1")),
    # the colour conversion (bgr0 -> yuv420p): chroma at the nearest pixel
    Variant("conversion neighbor", before_encode=NEIGHBOR),
    # all three: the farm's encoder now
    Variant("farm encoder", video=farm_video()),
    # the X screen
    Variant("xvfb depth 16", depth=16),
    # Chromium (--disable-threaded-compositing looked cheap: it stops the page's frames)
    Variant("chromium 1 raster thread", chromium=("--num-raster-threads=1",)),
    Variant("chromium viz in the browser process", chromium=("--in-process-gpu",)),
    # frames at the grab's rate (the farm's profile: Energy Saver on)
    Variant("chromium energy saver", energy_saver=True),
    # all of the farm's levers: its encoder and its Chromium's 30 frames a second
    Variant("farm encoder + energy saver", video=farm_video(), energy_saver=True),
)
