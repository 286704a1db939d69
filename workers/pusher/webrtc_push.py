"""One push run into a WebRTC room: the pusher's ffmpeg and the room publisher, as a pair.

ffmpeg paces and encodes the source as for RTMP and waits on a loopback port; the room
publisher (workers.pusher.webrtc_publisher) joins the room, connects WebRTC, then takes
ffmpeg's packets. The pair lives and dies together: a publisher that ends (refused, the
connection dropped) stops ffmpeg, and ffmpeg's end ('q', the end of the file) ends the
publisher, which leaves the room. The position is ffmpeg's, as for RTMP.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence

from config.settings import Settings
from workers.common.domain import rooms
from workers.common.domain.errors import Code
from workers.common.media.process import ManagedProcess
from workers.pusher import builders
from workers.pusher.builders import CodecPlan, PushInput, WebRtcRoom
from workers.pusher.push import Failure, PushRun
from workers.pusher.webrtc_publisher import PIN_ENV, REFUSED, UNREACHABLE

PUBLISHER_STOP_GRACE_S = 3.0
_REASONS = ("refused: ", "unreachable: ", "not connected: ", "media: ")  # its failure lines


def webrtc_room(settings: Settings, user: rooms.RoomUser) -> WebRtcRoom:
    """The farm's WebRTC room for ``user``: through WHIP when whip_url is set, else Janus."""
    whip = rooms.render(settings.whip_url, settings, user) if settings.whip_url else ""
    return WebRtcRoom(settings.janus_url, user.room, user.user_id, user.user_sig,
                      settings.janus_timeout_s, whip)  # fmt: skip


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WebRtcPushRun(PushRun):
    def __init__(
        self,
        name: str,
        binary: str,
        source: PushInput,
        plan: CodecPlan,
        room: WebRtcRoom,
        *,
        secrets: Sequence[str] = (),
    ) -> None:
        port = free_tcp_port()
        self.media_url = builders.media_url(port)
        super().__init__(name, builders.webrtc_push_argv(binary, source, plan, port), secrets)
        argv = builders.publisher_argv(port, room, plan)
        self.publisher = ManagedProcess(
            f"{name}-webrtc",
            argv,
            env={**os.environ, PIN_ENV: room.pin},
            secrets=[*secrets, room.pin] if room.pin else secrets,
        )

    def start(self) -> WebRtcPushRun:
        super().start()  # ffmpeg first: it listens before the publisher comes to read
        self.publisher.start()
        return self

    @property
    def alive(self) -> bool:
        if self.process.alive and not self.publisher.alive:
            # ffmpeg waits for a reader that will not come (or has gone): end it too.
            self.process.stop(quit_key=True, grace_s=1.0)
        return self.process.alive

    def stop(self, grace_s: float = 3.0) -> None:
        """'q' to ffmpeg: it closes the stream, and the publisher, at its end, leaves."""
        super().stop(grace_s)
        if not self.publisher.wait(PUBLISHER_STOP_GRACE_S):
            self.publisher.stop(grace_s=PUBLISHER_STOP_GRACE_S)
        self.publisher.close()

    def failure(self) -> Failure | None:
        """The room's side of an ended run: what the publisher said, when it failed."""
        code = self.publisher.returncode
        if code in (None, 0):
            return None
        said = [line for line in self.publisher.tail() if line.startswith(_REASONS)]
        message = said[-1].split(": ", 1)[1] if said else f"room publisher exited with {code}"
        if code == UNREACHABLE:
            return Failure("room", message, Code.ROOM_BACKEND_UNREACHABLE)
        if code == REFUSED:
            return Failure("room", message, Code.PUBLISH_REFUSED)
        return Failure("room", message)
