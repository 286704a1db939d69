"""The pusher's room publisher over WHIP, against a real simple-whip-server in front of a
real Janus: the endpoint's publisher is in the room while the file plays, a browser in the
room sees its colour and hears its tone, and it leaves when the file ends (the DELETE); a
wrong token is refused, and said so without the token; an unknown endpoint is refused as
such; a WHIP server that is down is unreachable."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.api import Pool
from tests.support.janus_subscriber import BrowserSubscriber
from tests.support.pusher_helpers import PusherApi, pusher_request
from tests.support.tools import free_port, require, wait_until
from tests.support.whip import JanusWithWebsockets, WhipServer
from workers.common.media.process import ManagedProcess
from workers.pusher import builders, webrtc_publisher
from workers.pusher.builders import CodecPlan, PushInput

pytestmark = pytest.mark.integration

POOL = Pool(PusherApi)
ROOM = 4321
TOKEN = "user-sig-never-shown-7f3a"  # the endpoint's bearer token: the user's UserSig
CLIP_S = 10
COLOUR = (40, 200, 90)  # the clip's picture, 0x28C85A
TONE_HZ = 1000


@pytest.fixture(scope="module")
def janus_server(
    tmp_path_factory: pytest.TempPathFactory, log_dir: Path
) -> Iterator[JanusWithWebsockets]:
    """This module's Janus speaks WebSocket too (for the WHIP server); conftest's
    ``subscriber`` watches its rooms."""
    require("janus")
    require("python:aiortc")
    server = JanusWithWebsockets(tmp_path_factory.mktemp("janus"), log_dir)
    server.start()
    server.create_room(ROOM)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def janus(janus_server: JanusWithWebsockets) -> JanusWithWebsockets:
    return janus_server


@pytest.fixture(scope="module")
def whip(
    janus: JanusWithWebsockets, tmp_path_factory: pytest.TempPathFactory, log_dir: Path
) -> Iterator[WhipServer]:
    server = WhipServer(tmp_path_factory.mktemp("whip"), log_dir, janus)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CLIP_S seconds of one colour and a 1 kHz tone (H.264/AAC: the pusher re-encodes)."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    argv = [require("ffmpeg"), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"color=c=0x28C85A:s=320x180:r=30:d={CLIP_S}",
            "-f", "lavfi", "-i", f"sine=f={TONE_HZ}:r=48000:d={CLIP_S}",
            "-c:v", "libx264", "-g", "30", "-c:a", "aac", "-shortest", str(path)]  # fmt: skip
    subprocess.run(argv, check=True, timeout=60)
    return path


def publish(
    clip: Path, whip_url: str, token: str, log_dir: Path
) -> tuple[ManagedProcess, ManagedProcess]:
    """ffmpeg serving the clip as VP8/Opus Matroska, and the publisher relaying it over WHIP."""
    port = free_port()
    plan = CodecPlan("h264", "aac", may_copy=False)
    ffmpeg = ManagedProcess(
        "ffmpeg", builders.webrtc_push_argv(require("ffmpeg"), PushInput(str(clip)), plan, port),
        log_file=log_dir / "ffmpeg.log",
    )  # fmt: skip
    argv = [sys.executable, "-m", "workers.pusher.webrtc_publisher",
            "--media", builders.media_url(port), "--whip", whip_url, "--timeout", "15",
            "--video", "--audio"]  # fmt: skip
    env = {**os.environ, webrtc_publisher.PIN_ENV: token}
    publisher = ManagedProcess("publisher", argv, env=env, log_file=log_dir / "publisher.log")
    ffmpeg.start()
    publisher.start()
    return ffmpeg, publisher


def publishers(janus: JanusWithWebsockets, display: str) -> list[dict[str, object]]:
    return [p for p in janus.participants(ROOM) if p["display"] == display and p.get("publisher")]


def test_a_whip_publish_is_seen_in_the_room_while_the_file_plays_and_leaves_at_its_end(
    janus: JanusWithWebsockets,
    whip: WhipServer,
    clip: Path,
    tmp_path: Path,
    subscriber: Callable[..., BrowserSubscriber],
) -> None:
    # Given an endpoint for the room that asks for the user's token, and a participant in
    # the room waiting for "alice"
    url = whip.create_endpoint("alice", ROOM, token=TOKEN, label="alice")
    viewer = subscriber(ROOM, "alice")
    # When the pusher publishes the file there over WHIP
    ffmpeg, publisher = publish(clip, url, TOKEN, tmp_path)
    try:
        # Then the endpoint's participant publishes in the room while the media flows
        wait_until(lambda: publishers(janus, "alice"), 30, 0.2, "alice publishing in the room")
        wait_until(lambda: "relaying" in publisher.tail(), 15, 0.2, "the publisher relaying")
        # And the participant sees the clip's colour and hears its tone (the wait is for
        # frames and an audible sound)
        seen = viewer.wait_receiving(timeout=30)
        assert (seen["width"], seen["height"]) == (320, 180), seen
        for got, sent in zip(seen["centre"], COLOUR, strict=True):
            assert abs(got - sent) <= 25, f"the picture is {seen['centre']}, the clip {COLOUR}"
        assert abs(seen["audioPeakHz"] - TONE_HZ) <= 50, seen
        assert ffmpeg.alive, ffmpeg.tail()
        # And when the file ends, the publisher hangs up (DELETE): the room no longer has it
        assert publisher.wait(CLIP_S + 30), publisher.tail()
        assert publisher.returncode == webrtc_publisher.ENDED, publisher.tail()
        wait_until(lambda: not publishers(janus, "alice"), 10, 0.2, "alice to leave the room")
        assert "[alice] Terminating WHIP session" in whip.log.read_text()  # its DELETE
        assert not [line for line in publisher.tail(200) if line.startswith("hang-up")]
        endpoint = next(e for e in whip.endpoints() if e["id"] == "alice")
        assert endpoint["enabled"] is False  # the resource was deleted: the endpoint is free
    finally:
        for process in (publisher, ffmpeg):
            process.stop(grace_s=3)
            process.close()
    assert TOKEN not in "\n".join(publisher.tail(200))


def test_a_wrong_token_is_refused_and_not_shown(
    janus: JanusWithWebsockets, whip: WhipServer, clip: Path, tmp_path: Path
) -> None:
    url = whip.create_endpoint("bob", ROOM, token=TOKEN, label="bob")
    wrong = "wrong-sig-also-secret-91c2"
    ffmpeg, publisher = publish(clip, url, wrong, tmp_path)
    try:
        assert publisher.wait(30), publisher.tail()
        assert publisher.returncode == webrtc_publisher.REFUSED
        said = "\n".join(publisher.tail(200))
        assert "refused: the WHIP endpoint answered 403" in said
        assert "the token was refused" in said
        assert wrong not in said and TOKEN not in said
        assert not publishers(janus, "bob")
    finally:
        for process in (publisher, ffmpeg):
            process.stop(grace_s=3)
            process.close()


def test_an_unknown_endpoint_is_refused_as_such(
    whip: WhipServer, clip: Path, tmp_path: Path
) -> None:
    ffmpeg, publisher = publish(clip, whip.endpoint_url("nobody"), TOKEN, tmp_path)
    try:
        assert publisher.wait(30), publisher.tail()
        assert publisher.returncode == webrtc_publisher.REFUSED
        assert "404" in "\n".join(publisher.tail()) and "no such WHIP endpoint" in "\n".join(
            publisher.tail()
        )
    finally:
        for process in (publisher, ffmpeg):
            process.stop(grace_s=3)
            process.close()


def test_a_whip_server_that_is_down_is_unreachable(clip: Path, tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}/whip/endpoint/alice"  # nothing listens there
    ffmpeg, publisher = publish(clip, down, TOKEN, tmp_path)
    try:
        assert publisher.wait(30), publisher.tail()
        assert publisher.returncode == webrtc_publisher.UNREACHABLE
        said = "\n".join(publisher.tail())
        assert "unreachable: the WHIP server at" in said and TOKEN not in said
    finally:
        for process in (publisher, ffmpeg):
            process.stop(grace_s=3)
            process.close()


@pytest.fixture
def farm_env(whip: WhipServer) -> dict[str, str]:
    """A farm whose pusher publishes through WHIP: the endpoint named after the user."""
    return {"CAPSTAN_WHIP_URL": whip.endpoint_url("{UserId}")}


def test_the_pusher_publishes_through_whip_when_the_farm_has_a_whip_url(
    api, worker, janus, whip, clip, static_server, subscriber
) -> None:
    # Given a farm with CAPSTAN_WHIP_URL, an endpoint for "whipbot" with the user's token,
    # and a participant in the room waiting for it
    whip.create_endpoint("whipbot", ROOM, token=TOKEN)
    viewer = subscriber(ROOM, "whipbot")
    files = static_server(clip.parent)

    # When the seeds' request pushes the clip as "whipbot", its UserSig the token
    task_id = api.start(pusher_request(files.url_for(clip.name), "whipbot", userSig=TOKEN))
    api.wait_status(task_id, "pushing")

    # Then the participant sees and hears it, and Describe shows the position moving
    seen = viewer.wait_receiving(timeout=30)
    assert (seen["width"], seen["height"]) == (320, 180), seen
    assert abs(seen["audioPeakHz"] - TONE_HZ) <= 50, seen
    assert api.wait_position(task_id, 2.0, timeout=30) < CLIP_S

    # And Stop hangs up: the endpoint's participant leaves, the task ends without an error
    api.act("Stop", task_id)
    done = api.finished(task_id)
    assert "ErrorCode" not in done["Result"], done["Result"]
    wait_until(lambda: not publishers(janus, "whipbot"), 15, 0.2, "whipbot leaves")
    assert TOKEN not in str(done) and TOKEN not in worker.log.read_text()
