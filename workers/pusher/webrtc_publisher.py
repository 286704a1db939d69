"""Publishing into a WebRTC room as the user: the pusher's second process.

The pusher's ffmpeg reads and paces the source as for RTMP, encodes VP8/Opus (what a
VideoRoom carries by default; an SFU forwards, it does not transcode) and serves Matroska
on a loopback TCP port. This process joins the room as a publisher (named ``--display``
in Janus, or as the WHIP endpoint says; workers.pusher.signalling), negotiates WebRTC with
aiortc, and only then connects to ffmpeg and relays its packets as they come: no decoding,
no re-encoding, aiortc only packetizes. ffmpeg waits for that connection before it reads a
frame, so nothing is "pushed" before the room takes it.

    python -m workers.pusher.webrtc_publisher --media tcp://127.0.0.1:PORT \\
        --janus http://127.0.0.1:8088/janus --room 1234 --display alice --video --audio

or, where the SFU speaks WHIP (RFC 9725; e.g. simple-whip-server in front of Janus):

    python -m workers.pusher.webrtc_publisher --media tcp://127.0.0.1:PORT \\
        --whip http://127.0.0.1:7080/whip/endpoint/alice --video --audio

The user's UserSig comes in ``CAPSTAN_ROOM_PIN``, never on a command line: the room's pin
for Janus, the bearer token for WHIP. One line on stderr per step; the exit code says how
it ended (the pusher reads both).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import os
import signal
import sys
import threading
import time
from fractions import Fraction
from typing import Any

import av
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpsender import RTCRtpSender

from workers.pusher.signalling import (
    JanusSignalling,
    Refused,
    Signalling,
    Target,
    Unreachable,
    WhipSignalling,
    say,
)

PIN_ENV = "CAPSTAN_ROOM_PIN"
# Exit codes, read by workers.pusher.webrtc_push.
ENDED = 0  # the media ended (ffmpeg closed it), or we were told to stop
REFUSED = 3  # the room said no: it does not exist, or the pin is wrong
UNREACHABLE = 4  # the SFU's API did not answer
NOT_CONNECTED = 5  # signalling worked but WebRTC (ICE/DTLS) did not connect, or dropped
MEDIA_FAILED = 6  # ffmpeg's stream could not be read (it never came, or broke off)
MEDIA_WAIT_S = 60.0  # for ffmpeg to open its input and listen (a live source probes first)
MEDIA_TIMEOUTS_S = (10.0, 60.0)  # connect, then each read: ffmpeg's own stall watch is shorter
CODECS = {"video": "video/VP8", "audio": "audio/opus"}
KEEPALIVE_S = 15.0  # Janus ends a session after 60 s without a request (WHIP needs none)


class PacketTrack(MediaStreamTrack):
    """A track whose frames are ffmpeg's encoded packets (aiortc packs them as they are)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.queue: asyncio.Queue[av.Packet | None] = asyncio.Queue()

    async def recv(self) -> av.Packet:
        packet = await self.queue.get()
        if packet is None:
            self.stop()
            raise MediaStreamError
        return packet


class Publisher:
    def __init__(
        self, signalling: Signalling, media_url: str, kinds: list[str], timeout_s: float
    ) -> None:
        self.signalling = signalling
        self.media_url = media_url
        self.timeout_s = timeout_s
        self.tracks = {kind: PacketTrack(kind) for kind in kinds}
        self.pc = RTCPeerConnection()
        self.stopping = asyncio.Event()
        self.joined = False
        self.media_failed = ""  # why ffmpeg's stream could not be read to its end

    async def run(self) -> int:
        try:
            await self._join()
        except Unreachable as exc:
            say(f"unreachable: {exc}")
            return UNREACHABLE
        except Refused as exc:
            say(f"refused: {exc}")
            return REFUSED
        if not await self._connected():
            say(f"not connected: WebRTC to the room did not connect ({self.pc.connectionState})")
            return NOT_CONNECTED
        say("connected")
        relayed = asyncio.Event()
        loop = asyncio.get_running_loop()
        # A daemon thread, not the executor: a relay blocked on a hung ffmpeg must not hold
        # up our exit.
        threading.Thread(
            target=self._relay, args=(loop, relayed), name="relay", daemon=True
        ).start()
        relaying = asyncio.ensure_future(relayed.wait())
        keepalive = asyncio.ensure_future(self._keep_alive())
        dropped = asyncio.ensure_future(self._dropped())
        stop = asyncio.ensure_future(self.stopping.wait())
        done, _ = await asyncio.wait([relaying, dropped, stop], return_when=asyncio.FIRST_COMPLETED)
        keepalive.cancel()
        if dropped in done:
            say("not connected: the room dropped the WebRTC connection")
            return NOT_CONNECTED
        if relaying in done:
            await self._drain()
        if self.media_failed:
            say(f"media: {self.media_failed}")
            return MEDIA_FAILED
        say("ended")
        return ENDED

    async def close(self) -> None:
        """Hang up first (WHIP's DELETE, Janus's session destroyed: we leave the room), then
        close the connection, so that the server hears a hang-up, not a dropped peer."""
        if self.joined:
            self.joined = False
            await asyncio.to_thread(self.signalling.hang_up)
        with contextlib.suppress(Exception):
            await self.pc.close()

    # ---- signalling ------------------------------------------------------------------

    async def _join(self) -> None:
        for kind, track in self.tracks.items():
            transceiver = self.pc.addTransceiver(track, direction="sendonly")
            wanted = [c for c in RTCRtpSender.getCapabilities(kind).codecs
                      if c.mimeType.lower() == CODECS[kind].lower()]  # fmt: skip
            transceiver.setCodecPreferences(wanted)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        self.joined = True  # from here on, hang up on close (a half-made join included)
        answer = await asyncio.to_thread(self.signalling.offer, self.pc.localDescription.sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    async def _connected(self) -> bool:
        deadline = asyncio.get_running_loop().time() + self.timeout_s
        while asyncio.get_running_loop().time() < deadline:
            if self.pc.connectionState == "connected":
                return True
            if self.pc.connectionState in ("failed", "closed"):
                return False
            await asyncio.sleep(0.05)
        return False

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_S)
            await asyncio.to_thread(self.signalling.keepalive)

    async def _dropped(self) -> None:
        while self.pc.connectionState not in ("failed", "closed"):
            await asyncio.sleep(0.2)

    # ---- media -----------------------------------------------------------------------

    def _relay(self, loop: asyncio.AbstractEventLoop, relayed: asyncio.Event) -> None:
        """ffmpeg's packets to the tracks, as they arrive (ffmpeg paces them)."""
        try:
            self._demux(loop)
        finally:
            loop.call_soon_threadsafe(relayed.set)

    def _demux(self, loop: asyncio.AbstractEventLoop) -> None:
        container = self._open_media()
        if container is None:
            self._end_tracks(loop)
            return
        say("relaying")
        streams = {s.type: s for s in container.streams if s.type in self.tracks}
        try:
            for packet in container.demux(*streams.values()):
                if packet.size == 0 or packet.pts is None or self.stopping.is_set():
                    continue
                packet.time_base = packet.time_base or Fraction(1, 1000)
                track = self.tracks[packet.stream.type]
                loop.call_soon_threadsafe(track.queue.put_nowait, packet)
        except (av.FFmpegError, OSError) as exc:
            self.media_failed = f"ffmpeg's output broke off: {exc}"
        finally:
            container.close()
            self._end_tracks(loop)

    def _open_media(self) -> Any:
        """ffmpeg's stream; ffmpeg listens only once its input is open (a live source can
        take seconds to probe), so a refused connection is tried again for a while."""
        deadline = time.monotonic() + MEDIA_WAIT_S
        while not self.stopping.is_set():
            try:
                return av.open(
                    self.media_url, format="matroska", mode="r", timeout=MEDIA_TIMEOUTS_S
                )
            except (av.FFmpegError, OSError) as exc:
                if time.monotonic() > deadline or getattr(exc, "errno", None) != errno.ECONNREFUSED:
                    self.media_failed = f"cannot read ffmpeg's output at {self.media_url}: {exc}"
                    return None
                time.sleep(0.1)
        return None

    def _end_tracks(self, loop: asyncio.AbstractEventLoop) -> None:
        for track in self.tracks.values():
            loop.call_soon_threadsafe(track.queue.put_nowait, None)

    async def _drain(self) -> None:
        """Let the senders send what is queued before hanging up (a second at most)."""
        for _ in range(20):
            if all(t.queue.empty() for t in self.tracks.values()):
                break
            await asyncio.sleep(0.05)


async def main_async(args: argparse.Namespace) -> int:
    kinds = [kind for kind in ("video", "audio") if getattr(args, kind)]
    publisher = Publisher(signalling(args, kinds), args.media, kinds, args.timeout)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, publisher.stopping.set)
    try:
        return await publisher.run()
    finally:
        await publisher.close()


def signalling(args: argparse.Namespace, kinds: list[str]) -> Signalling:
    """WHIP with --whip, else Janus's API; the user's UserSig from the environment."""
    user_sig = os.environ.get(PIN_ENV, "")
    if args.whip:
        return WhipSignalling(args.whip, user_sig, args.timeout)
    target = Target(args.janus, args.room, args.display, user_sig, args.timeout)
    return JanusSignalling(target, kinds)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m workers.pusher.webrtc_publisher")
    parser.add_argument("--media", required=True, help="ffmpeg's Matroska, e.g. tcp://127.0.0.1:P")
    parser.add_argument("--janus", help="the Janus HTTP API, …/janus (with --room, --display)")
    parser.add_argument("--room")
    parser.add_argument("--display", help="the participant's name: the UserId")
    parser.add_argument("--whip", help="a WHIP endpoint's URL (instead of --janus and --room)")
    parser.add_argument("--timeout", type=float, default=10.0, help="per signalling step, s")
    parser.add_argument("--video", action="store_true")
    parser.add_argument("--audio", action="store_true")
    args = parser.parse_args(argv)
    if not (args.video or args.audio):
        parser.error("nothing to publish: give --video, --audio or both")
    if args.whip and (args.janus or args.room):
        parser.error("--whip publishes without --janus and --room: give one or the other")
    if not args.whip and not (args.janus and args.room and args.display):
        parser.error("where to publish: give --whip URL, or --janus, --room and --display")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
