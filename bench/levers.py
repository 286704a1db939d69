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
    """The farm's video encoder as the capture builder writes it (less its frame clock)."""
    encode = builders.encode_args(builders.Encoder.of(Settings()), 4)
    video = encode[encode.index("-c:v") : encode.index("-c:a")]
    at = video.index("-r")
    return tuple(video[:at] + video[at + 2 :])


ENCODERS = (
    Variant("bare: veryfast crf23"),
    Variant("farm", video=farm_video()),
    Variant("superfast crf23", video=x264("superfast", 23)),
    Variant("ultrafast crf23", video=x264("ultrafast", 23)),
    Variant("ultrafast crf21", video=x264("ultrafast", 21)),
    Variant("veryfast crf23 threads1", video=x264("veryfast", 23, "-threads", "1")),
    Variant("veryfast crf23 sws bilinear", before_encode=("-sws_flags", "bilinear")),
    Variant("veryfast crf23 sws fast_bilinear", before_encode=("-sws_flags", "fast_bilinear")),
)

LEVERS = (
    # the encoder
    Variant("x264 superfast", video=x264("superfast", 23)),
    Variant("x264 ultrafast", video=x264("ultrafast", 23)),
    Variant("x264 threads=1", video=x264("veryfast", 23, "-threads", "1")),
    # the colour conversion (bgr0 -> yuv420p)
    Variant("sws fast_bilinear", before_encode=("-sws_flags", "fast_bilinear")),
    # the X screen
    Variant("xvfb depth 16", depth=16),
    # Chromium
    Variant("chromium 1 raster thread", chromium=("--num-raster-threads=1",)),
    Variant(
        "chromium no threaded compositing",
        chromium=("--disable-threaded-compositing", "--disable-threaded-animation"),
    ),
    Variant(
        "chromium audio+network in process",
        chromium=(
            "--disable-features=MediaRouter,InfiniteSessionRestore,AudioServiceOutOfProcess",
            "--enable-features=NetworkServiceInProcess",
        ),
    ),
)
