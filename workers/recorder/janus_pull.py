"""Recording a participant of a Janus VideoRoom: the room forwards the user's RTP to us.

No visible participant joins: the VideoRoom's ``rtp_forward`` sends the publisher's audio
and video to UDP ports on this worker, which an ffmpeg run reads through an SDP file and
writes as the recorder's usual segments. The room is the user's presence: a run starts
when the user (their display name is the UserId) publishes, and ends ('q', the segment
closed) when they no longer do; a return is a new run, as with RTMP.

The pin (UserSig) is checked once, at start (janus.check_access).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.settings import Settings
from workers.common.delivery import janus
from workers.common.domain import rooms
from workers.common.domain.errors import Code, UserFault
from workers.common.media.ffmpeg import SegmentRun
from workers.common.media.process import ManagedProcess
from workers.recorder import builders
from workers.recorder.puller import PullRun, RunEnd

log = logging.getLogger(__name__)

CHECK_EVERY_S = 1.0  # how often a run asks the room whether the user still publishes


class JanusDown(Exception):
    """Janus did not answer (the caller decides: configuration, or the user gone)."""


@dataclass
class JanusRoom:
    """One room of the farm's Janus, and the user recorded in it."""

    settings: Settings
    room: str
    user_id: str
    pin: str = field(default="", repr=False)  # UserSig: a secret

    @property
    def key(self) -> int | str:
        return janus.room_key(self.room)

    def client(self) -> janus.VideoRoom:
        return janus.VideoRoom(self.settings.janus_url, self.settings.janus_timeout_s)

    def check(self) -> None:
        """The room exists and the pin opens it; else a UserFault saying which."""
        try:
            with self.client() as room:
                janus.check_access(room, self.key, self.pin)
        except janus.JanusUnreachable as exc:
            raise self.unreachable(exc) from exc
        except janus.JanusError as exc:
            raise self._refused(str(exc)) from exc

    def publisher(self, room: janus.VideoRoom) -> int | None:
        """The id of the user's publisher in the room, or None when they do not publish."""
        for participant in room.participants(self.key):
            if participant.get("display") == self.user_id and participant.get("publisher"):
                return int(participant["id"])
        return None

    def codecs(self, room: janus.VideoRoom) -> tuple[str, str]:
        """The room's (first) audio and video codec: what its publishers send."""
        listed = room.request({"request": "list", **_auth(self.settings, secret=False)})
        for info in listed.get("list", []):
            if str(info.get("room")) == self.room:
                return _first(info.get("audiocodec"), "opus"), _first(info.get("videocodec"), "vp8")
        return "opus", "vp8"

    def unreachable(self, exc: Exception) -> UserFault:
        return UserFault(
            f"recording failed: cannot reach the room backend (Janus at "
            f"{rooms.redact(self.settings.janus_url)}): {exc}",
            code=Code.ROOM_BACKEND_UNREACHABLE,
        )

    def _refused(self, why: str) -> UserFault:
        return UserFault(
            f"recording failed: the room refused the recorder: {why}", Code.ROOM_REFUSED
        )


@dataclass
class JanusPullRun(PullRun):
    """A pull run fed by an rtp_forward; it ends when the user stops publishing."""

    room: JanusRoom | None = None
    client: janus.VideoRoom | None = None
    publisher_id: int = 0
    sdp: Path | None = None
    forwarders: list[int] = field(default_factory=list)
    _checked_at: float = 0.0
    _gone: bool = False

    @property
    def alive(self) -> bool:
        if not self.process.alive:
            return False
        now = time.monotonic()
        if not self._gone and now - self._checked_at >= CHECK_EVERY_S:
            self._checked_at = now
            self._gone = not self._still_publishing()
            if self._gone:
                self.process.stop(grace_s=5.0)
        return self.process.alive

    def _still_publishing(self) -> bool:
        assert self.room is not None and self.client is not None
        try:
            return self.room.publisher(self.client) == self.publisher_id
        except janus.JanusError as exc:  # Janus away: the user cannot be recorded either
            log.warning("janus: %s", exc)
            return False

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGINT, not 'q': ffmpeg blocked reading UDP that no longer comes reads no stdin,
        while SIGINT interrupts the read; either way it closes and lists its last segment."""
        self.process.stop(grace_s=grace_s)
        self.process.close()
        self._release()

    def kill(self) -> None:
        super().kill()
        self._release()

    def end(self) -> RunEnd:
        why = super().end()
        self._release()
        return RunEnd.NO_TRACK if why is RunEnd.NO_TRACK else RunEnd.GONE

    def _release(self) -> None:
        """Stop the forwarders (Janus drops them itself when the publisher leaves)."""
        if self.client is None or self.room is None:
            return
        for stream_id in self.forwarders:
            body: dict[str, Any] = {"request": "stop_rtp_forward", "room": self.room.key,
                                    "publisher_id": self.publisher_id, "stream_id": stream_id,
                                    **_auth(self.room.settings)}  # fmt: skip
            with contextlib.suppress(janus.JanusError):
                self.client.request(body)
        self.client.close()
        self.client = None
        if self.sdp is not None:
            self.sdp.unlink(missing_ok=True)


def start_run(room: JanusRoom, new_run: Callable[[], SegmentRun], mode: str) -> JanusPullRun | None:
    """A run recording the user (in ``new_run()``), or None while they do not publish.
    JanusDown when Janus does not answer."""
    client = room.client()
    try:
        client.open()
        publisher = room.publisher(client)
        if publisher is None:
            client.close()
            return None
        return _forward(room, client, publisher, new_run(), mode)
    except janus.JanusError as exc:
        client.close()
        raise JanusDown(str(exc)) from exc


def _forward(
    room: JanusRoom, client: janus.VideoRoom, publisher: int, run: SegmentRun, mode: str
) -> JanusPullRun:
    _, with_audio, with_video = builders.OUTPUTS[mode]
    audio_codec, video_codec = room.codecs(client)
    audio = (free_rtp_port(), audio_codec) if with_audio else None
    video = (free_rtp_port(), video_codec) if with_video else None
    sdp = run.directory / f"{run.stem}.sdp"
    sdp.write_text(builders.rtp_sdp(audio, video))
    settings = room.settings
    argv = builders.rtp_pull_argv(
        settings.ffmpeg, str(sdp), mode, run, segment_s=settings.segment_seconds
    )
    process = ManagedProcess(f"recorder-janus-{run.stem}", argv).start()
    pull = JanusPullRun(run, process, room=room, client=client, publisher_id=publisher, sdp=sdp)
    body: dict[str, Any] = {"request": "rtp_forward", "room": room.key, "publisher_id": publisher,
                            "host": settings.janus_forward_host, **_auth(settings)}  # fmt: skip
    if audio:
        body |= {"audio_port": audio[0], "audio_pt": builders.AUDIO_PT}
    if video:
        body |= {"video_port": video[0], "video_pt": builders.VIDEO_PT}
    try:
        answer = client.request(body)
    except janus.JanusError:
        pull.kill()
        raise
    pull.forwarders = stream_ids(answer)
    log.info("janus: forwarding publisher of %s in room %s", room.user_id, room.room)
    return pull


def stream_ids(answer: dict[str, Any]) -> list[int]:
    """The forwarders rtp_forward created: a list (the new API) or, for the legacy one
    the farm uses, ``rtp_stream: {audio_stream_id, video_stream_id, ...}``."""
    if isinstance(answer.get("forwarders"), list):
        return [int(f["stream_id"]) for f in answer["forwarders"]]
    legacy = answer.get("rtp_stream") or {}
    return [int(value) for key, value in legacy.items() if key.endswith("stream_id")]


def _auth(settings: Settings, *, secret: bool = True) -> dict[str, str]:
    """The room secret and admin key the farm's Janus asks of rtp_forward, when set
    (the admin key also lists private rooms)."""
    auth = {"secret": settings.janus_room_secret if secret else "",
            "admin_key": settings.janus_admin_key}  # fmt: skip
    return {key: value for key, value in auth.items() if value}


def free_rtp_port() -> int:
    """An even UDP port whose odd neighbour (ffmpeg's RTCP) is free too."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1] & ~1
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rtp, \
                    socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rtcp:  # fmt: skip
                rtp.bind(("127.0.0.1", port))
                rtcp.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise OSError("no free UDP port pair for RTP")


def _first(codecs: Any, default: str) -> str:
    first = str(codecs or default).split(",")[0].strip().lower()
    return first if first in builders.RTP_CODECS else default
