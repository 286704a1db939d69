"""A real Janus (VideoRoom) for the tests, and participants publishing in its rooms.

JanusServer starts Debian's janus with deploy.local.janus's configs (HTTP API on a free
loopback port, VideoRoom only) in its own directory, and creates rooms through the API.
Participants publish a known picture (one solid colour) and a known tone under a display
name: BrowserPublisher is Chromium on tests/pages/janus-publish.html (Janus's janus.js,
a fake camera and microphone playing generated clips), as a person would join;
JanusPublisher is aiortc in a thread of its own, lighter, speaking the same API.
"""

from __future__ import annotations

import asyncio
import fractions
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import av
import numpy as np
from aiortc import AudioStreamTrack, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack

from deploy.local import janus as local_janus
from tests.support.http import StaticServer
from tests.support.servers import Server
from tests.support.tools import free_port, wait_until
from workers.common.delivery.janus import VideoRoom
from workers.common.media.process import ManagedProcess

ADMIN_KEY = "farm-admin-key"  # the test Janus's VideoRoom admin_key (the farm's setting)
COLOUR = (40, 200, 90)  # RGB of every frame a JanusPublisher sends
TONE_HZ = 1000.0
SAMPLE_RATE = 48000


class JanusServer(Server):
    """janus on a free port: .url .create_room(room, pin=) .participants(room) .env()."""

    def __init__(self, directory: Path, log_dir: Path) -> None:
        self.port = free_port()
        self.dir = directory
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in local_janus.janus_configs(directory, self.port, ADMIN_KEY).items():
            (directory / name).write_text(text)
        super().__init__(local_janus.janus_command(directory, self.port), log_dir / "janus.log")

    @property
    def url(self) -> str:
        return local_janus.janus_url(self.port)

    def create_room(self, room: int, pin: str = "", **options: Any) -> int:
        # fir_freq: the room asks its publishers for a keyframe every 2 s. Janus 1.1 asks for
        # none when a forwarder starts, and the recorder's picture begins at a keyframe.
        body = {"request": "create", "room": room, "admin_key": ADMIN_KEY, "fir_freq": 2,
                **options}  # fmt: skip
        if pin:
            body["pin"] = pin
        with VideoRoom(self.url) as client:
            client.request(body)
        return room

    def participants(self, room: int) -> list[dict[str, Any]]:
        with VideoRoom(self.url) as client:
            return client.participants(room)

    def env(self) -> dict[str, str]:
        """The farm's settings for this Janus (room_backend janus)."""
        return {
            "CAPSTAN_ROOM_BACKEND": "janus",
            "CAPSTAN_JANUS_URL": self.url,
            "CAPSTAN_JANUS_ADMIN_KEY": ADMIN_KEY,
        }


class JanusPublisher:
    """A participant named ``display`` publishing ``colour`` and a ``tone_hz`` tone in ``room``."""

    def __init__(
        self,
        url: str,
        room: int,
        display: str,
        pin: str = "",
        colour: tuple[int, int, int] = COLOUR,
        tone_hz: float = TONE_HZ,
    ) -> None:
        self.url, self.room, self.display, self.pin = url, room, display, pin
        self.colour, self.tone_hz = colour, tone_hz
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.client: VideoRoom | None = None
        self.pc: Any = None
        self._keepalive: asyncio.Future[None] | None = None

    def start(self, timeout: float = 30.0) -> JanusPublisher:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._publish(), self.loop).result(timeout)
        return self

    def leave(self) -> None:
        """Hang up and leave the room (the session is destroyed)."""
        if self.thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(30)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)

    async def _publish(self) -> None:
        self.pc = RTCPeerConnection()
        self.pc.addTrack(ColourTrack(self.colour))
        self.pc.addTrack(ToneTrack(self.tone_hz))
        await self.pc.setLocalDescription(await self.pc.createOffer())
        body = {"request": "joinandconfigure", "ptype": "publisher", "room": self.room,
                "display": self.display, "pin": self.pin, "audio": True, "video": True}  # fmt: skip
        offer = {"type": "offer", "sdp": self.pc.localDescription.sdp}
        answer = await asyncio.to_thread(self._signal, body, offer)
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        self._keepalive = asyncio.ensure_future(self._keep_alive())

    def _signal(self, body: dict[str, Any], offer: dict[str, Any]) -> dict[str, Any]:
        self.client = VideoRoom(self.url, timeout_s=20).open()
        _, jsep = self.client.exchange(body, offer)
        assert jsep is not None, "Janus answered the publish without an SDP"
        return jsep

    async def _keep_alive(self) -> None:
        while self.client is not None:
            await asyncio.sleep(15)
            await asyncio.to_thread(self.client.keepalive)

    async def _close(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
        if self.pc is not None:
            await self.pc.close()
        if self.client is not None:
            client, self.client = self.client, None
            await asyncio.to_thread(client.close)


class ColourTrack(VideoStreamTrack):
    """320x180 frames of one colour at 30 fps."""

    def __init__(self, colour: tuple[int, int, int]) -> None:
        super().__init__()
        self.colour = colour

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        picture = np.empty((180, 320, 3), dtype=np.uint8)
        picture[:] = self.colour
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class ToneTrack(AudioStreamTrack):
    """A sine, 20 ms frames, mono s16 at 48 kHz, paced in real time."""

    samples = 960

    def __init__(self, hz: float) -> None:
        super().__init__()
        self.hz = hz
        self.sent = 0
        self.started: float | None = None

    async def recv(self) -> av.AudioFrame:
        loop = asyncio.get_running_loop()
        if self.started is None:
            self.started = loop.time()
        wait = self.started + self.sent / SAMPLE_RATE - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        t = (self.sent + np.arange(self.samples)) / SAMPLE_RATE
        wave = (0.3 * 32767 * np.sin(2 * np.pi * self.hz * t)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(wave.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = SAMPLE_RATE, self.sent
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self.sent += self.samples
        return frame


JANUS_JS = Path("/usr/share/javascript/janus-gateway/janus.js")  # Debian's libjs-janus-gateway
PAGE = Path(__file__).resolve().parents[1] / "pages" / "janus-publish.html"


def publisher_pages(directory: Path) -> StaticServer:
    """tests/pages/janus-publish.html and Debian's janus.js, served side by side."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(PAGE, directory / PAGE.name)
    shutil.copy(PAGE.with_name("janus-subscribe.html"), directory / "janus-subscribe.html")
    shutil.copy(JANUS_JS, directory / "janus.js")
    return StaticServer(directory)


class BrowserPublisher:
    """Chromium (headless, a fresh profile) on janus-publish.html: a participant named
    ``display`` whose fake camera plays ``colour`` and whose fake microphone a ``tone_hz``
    tone, through janus.js, as a person in the room would publish."""

    def __init__(
        self,
        pages: StaticServer,
        janus: JanusServer,
        room: int,
        display: str,
        directory: Path,
        pin: str = "",
        colour: tuple[int, int, int] = COLOUR,
        tone_hz: float = TONE_HZ,
    ) -> None:
        self.janus, self.room, self.display = janus, room, display
        directory.mkdir(parents=True, exist_ok=True)
        camera, microphone = _fake_devices(directory, colour, tone_hz)
        query = urlencode({"server": janus.url, "room": room, "display": display, "pin": pin})
        self.argv = [
            "/usr/bin/chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
            "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
            "--autoplay-policy=no-user-gesture-required",
            f"--user-data-dir={directory / 'profile'}",
            "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={camera}",
            f"--use-file-for-fake-audio-capture={microphone}",
            f"{pages.url_for(PAGE.name)}?{query}",
        ]  # fmt: skip
        self.process = ManagedProcess(
            f"chromium-{display}", self.argv, log_file=directory / "chromium.log"
        )

    def start(self, timeout: float = 60.0) -> BrowserPublisher:
        self.process.start()
        wait_until(self._publishing, timeout, 0.5, f"{self.display} publishing in {self.room}")
        return self

    def _publishing(self) -> bool:
        if not self.process.alive:
            raise AssertionError(f"chromium exited: {self.process.tail()}")
        people = self.janus.participants(self.room)
        return any(p["display"] == self.display and p.get("publisher") for p in people)

    def leave(self) -> None:
        self.process.stop(grace_s=5)
        self.process.close()


def _fake_devices(
    directory: Path, colour: tuple[int, int, int], tone_hz: float
) -> tuple[Path, Path]:
    """A Y4M of one colour and a WAV of one tone, which Chromium plays in a loop."""
    camera, microphone = directory / "camera.y4m", directory / "microphone.wav"
    hex_colour = "0x{:02X}{:02X}{:02X}".format(*colour)
    for argv in (
        ["-f", "lavfi", "-i", f"color=c={hex_colour}:s=320x180:r=30", "-t", "2",
         "-pix_fmt", "yuv420p", str(camera)],
        ["-f", "lavfi", "-i", f"sine=f={tone_hz}:r=48000", "-t", "4", "-ac", "1", str(microphone)],
    ):  # fmt: skip
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *argv],
                       check=True, timeout=60)  # fmt: skip
    return camera, microphone
