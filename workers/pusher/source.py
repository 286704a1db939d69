"""videoSrc: where it is (http(s), s3://, the media directory, rtmp://) and what it holds.

``Source.url()`` is what ffmpeg opens, made fresh for every run (an S3 link expires);
``Source.shown`` is what messages say (never a signed link).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from config.settings import Settings
from workers.common.delivery.storage import S3Storage, farm_s3
from workers.common.domain import urlpolicy
from workers.common.domain.errors import Code, UserFault
from workers.pusher import builders
from workers.pusher.builders import CodecPlan

# A signed S3 link outlives any single run: runs restart it on Resume and on reconnects.
S3_LINK_S = 12 * 3600


@dataclass(frozen=True)
class SourceFacts:
    plan: CodecPlan
    duration_s: float | None  # None: live, or a file that does not say


@dataclass(frozen=True)
class Source:
    shown: str  # the videoSrc as given
    kind: str  # "http", "s3", "file", "live"
    settings: Settings

    @property
    def live(self) -> bool:
        return self.kind == "live"

    def url(self) -> str:
        """What ffmpeg opens; checked against the URL policy each time."""
        if self.kind == "file":
            return str(self._file())
        if self.kind == "s3":
            return self._signed_link()
        try:
            if self.kind == "http":
                # (chaos/security, issue 6) ffmpeg follows redirects itself: hand it the
                # end of the chain, every hop checked, so a redirect cannot reach inside.
                return urlpolicy.final_url(self.shown, self.settings.url_allowlist)
            urlpolicy.check(self.shown, self.settings.url_allowlist, urlpolicy.MEDIA)
        except urlpolicy.UrlRefused as exc:
            raise UserFault(f"videoSrc {self.shown} {exc}", code=Code.SOURCE_UNAVAILABLE) from None
        return self.shown

    def hide(self, text: str, url: str) -> str:
        """``text`` (an ffmpeg message) with the opened ``url`` shown as the videoSrc."""
        return text.replace(url, self.shown) if url != self.shown else text

    def _file(self) -> Path:
        root = self.settings.media_root.resolve()
        path = (root / self.shown).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise UserFault(
                f"videoSrc {self.shown}: no such file in the media directory",
                code=Code.SOURCE_UNAVAILABLE,
            )
        return path

    def _signed_link(self) -> str:
        parts = urlsplit(self.shown)
        storage = S3Storage(farm_s3(self.settings, parts.netloc))
        link: str = storage.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": parts.netloc, "Key": parts.path.lstrip("/")},
            ExpiresIn=S3_LINK_S,
        )
        return link


def source_of(video_src: str, settings: Settings) -> Source:
    scheme = urlsplit(video_src).scheme.lower() if "://" in video_src else ""
    kind = {"http": "http", "https": "http", "s3": "s3", "rtmp": "live", "rtmps": "live"}
    return Source(video_src, kind.get(scheme, "file"), settings)


def probe_source(source: Source, timeout_s: float) -> SourceFacts:
    """The source's codecs and duration; UserFault SourceUnavailable when unreadable."""
    url = source.url()
    argv = builders.probe_argv(source.settings.ffprobe, url, live=source.live)
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise UserFault(
            f"videoSrc {source.shown} could not be read within {timeout_s:.0f}s",
            code=Code.SOURCE_UNAVAILABLE,
        ) from None
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        why = lines[-1] if lines else f"ffprobe exited with code {done.returncode}"
        why = why.split(f"{url}: ", 1)[-1]  # "<url>: Server returned 404 Not Found"
        raise UserFault(
            f"videoSrc {source.shown} cannot be read: {source.hide(why, url)}",
            code=Code.SOURCE_UNAVAILABLE,
        )
    return facts_of(json.loads(done.stdout or b"{}"), source)


def facts_of(data: dict[str, object], source: Source) -> SourceFacts:
    streams = data.get("streams") or []
    assert isinstance(streams, list)
    video = _first_codec(streams, "video")
    audio = _first_codec(streams, "audio")
    if video is None and audio is None:
        raise UserFault(
            f"videoSrc {source.shown} has neither video nor audio", code=Code.SOURCE_UNAVAILABLE
        )
    fmt = data.get("format") or {}
    assert isinstance(fmt, dict)
    duration = _float(fmt.get("duration"))
    if source.live:
        duration = None
    return SourceFacts(CodecPlan(video, audio), duration if duration else None)


def keyframe_at(source: Source, url: str, at_s: float, timeout_s: float) -> float | None:
    """Where a stream-copy push seeking to ``at_s`` really starts (the keyframe before it)."""
    argv = builders.keyframe_argv(source.settings.ffprobe, url, at_s)
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return None
    for line in done.stdout.decode("utf-8", "replace").splitlines():
        time_s = _float(line.split(",")[0])
        if time_s is not None:
            return min(time_s, at_s)
    return None


def _first_codec(streams: list[object], kind: str) -> str | None:
    for stream in streams:
        if isinstance(stream, dict) and stream.get("codec_type") == kind:
            # Cover art is a "video" stream of one picture: not something to push.
            if kind == "video" and (stream.get("disposition") or {}).get("attached_pic"):
                continue
            name = stream.get("codec_name")
            return str(name) if name else None
    return None


def _float(value: object) -> float | None:
    try:
        return float(str(value))
    except ValueError:
        return None
