"""WebRTC vs RTMP: CPU per push and per recording, both room backends in the same run.

    .venv/bin/python -m bench.webrtc [--sessions 2] [--seconds 20] [--settle 5]

Starts its own redis-server, nginx-rtmp (the RTMP room), Janus (the WebRTC room: a
VideoRoom), a static file server, and then, one phase after another, a real pusher or
recorder worker (Celery, threads) for each room backend: CAPSTAN_ROOM_BACKEND is a
worker's setting, so the RTMP phases run a worker of the farm's env and the Janus phases
one with Janus's settings on top (one dispatcher, the Flask test client, serves both).
Every phase runs ``sessions`` concurrent tasks on the same 640x360 25 fps clip (H.264
~1 Mbps + AAC), waits ``settle`` seconds, then counts the CPU over ``seconds``.

Prints JSON: ``push`` (RTMP copy, RTMP encoding from an MPEG-4/MP3 copy of the clip,
WebRTC into a Janus room, with the ratios), ``record`` (Mode 02 MP4 from an RTMP room
and from a Janus room, with the ratio), the machine, and what each figure counts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import children_of, cpu_seconds
from bench.pusher import sample_video

PUSH_ROOM, RECORD_ROOM = 7101, 7102  # the Janus VideoRooms of the push and record phases
RTMP_RECORD_ROOM = 43474
COUNTS = {
    "cores_per_session": "CPU cores per concurrent task: the worker process and every "
    "process under it (ffmpeg; for a WebRTC push also the room publisher), divided by "
    "the tasks",
    "ffmpeg_cores_per_session": "the worker's ffmpeg children alone, per task",
    "publisher_cores_per_session": "WebRTC push only: the room publisher process "
    "(python -m workers.pusher.webrtc_publisher, aiortc), per task; part of "
    "cores_per_session",
    "worker_process_cores": "the Celery worker process's own CPU, for all tasks together",
    "media_s_per_wall_s": "push: the slowest push's Position moved this many media seconds "
    "per wall second in the window (1.0: real time; below: the machine could not keep up "
    "and the push's CPU is throttled); record: the shortest recording's duration over the "
    "time from Start to Stop (a little under 1.0 when real time: the start-up)",
    "cpu_s_per_media_s": "push: CPU seconds of the worker's tree per media second pushed in "
    "the window; equals cores_per_session when the pushes keep real time, and stays fair "
    "when they do not",
    "recorded": "record only: what each recording's MP4 holds (ffprobe), started before "
    "the window and stopped after it",
    "janus_cores_per_stream": "Janus phases only: the janus process's CPU per participant "
    "stream (not part of cores_per_session); push: Janus takes the stream in, nobody "
    "subscribes; record: Janus takes it in and rtp_forwards it to the recorder",
    "record.janus publishers": "the participants the recorder records publish the same clip "
    "encoded beforehand as the pusher encodes it (VP8/Opus), with the pusher's own room "
    "publisher (webrtc_publisher) fed by an ffmpeg -re copy; outside the worker, not counted",
    "record.rtmp publishers": "ffmpeg -re copies of the clip into nginx-rtmp, not counted",
}


# ---- CPU over a window -----------------------------------------------------------------


def process_tree(root: int) -> list[int]:
    """Every process under ``root`` (children, their children, ...)."""
    found, todo = [], [root]
    while todo:
        kids = children_of(todo.pop())
        found += kids
        todo += kids
    return found


def kind_of(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "gone"
    text = b" ".join(argv).decode(errors="replace")
    if "webrtc_publisher" in text:
        return "publisher"
    return "ffmpeg" if Path(argv[0].decode(errors="replace")).name == "ffmpeg" else "other"


def cpu_window(worker: int, sessions: int, seconds: float, janus: int | None) -> dict[str, Any]:
    """CPU the worker and its process tree (and Janus, given its pid) used over ``seconds``."""
    tree = {pid: kind_of(pid) for pid in process_tree(worker)}
    watched = [worker, *tree, *([janus] if janus else [])]
    before = {pid: cpu_seconds(pid) for pid in watched}
    started = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - started
    used = {pid: cpu_seconds(pid) - before[pid] for pid in watched}
    ended = [pid for pid in watched if not Path(f"/proc/{pid}").exists()]

    def per_session(kind: str) -> float:
        return round(sum(used[p] for p, k in tree.items() if k == kind) / wall / sessions, 4)

    figure: dict[str, Any] = {
        "sessions": sessions,
        "window_s": round(wall, 1),
        "cores_per_session": round(sum(used[p] for p in [worker, *tree]) / wall / sessions, 4),
        "ffmpeg_cores_per_session": per_session("ffmpeg"),
        "worker_process_cores": round(used[worker] / wall, 4),
        "processes": {k: list(tree.values()).count(k) for k in sorted(set(tree.values()))},
        "steady": not ended,  # False: a process ended inside the window (its CPU is lost)
    }
    if "publisher" in tree.values():
        figure["publisher_cores_per_session"] = per_session("publisher")
    if janus:
        figure["janus_cores_per_stream"] = round(used[janus] / wall / sessions, 4)
    return figure


# ---- the clips ---------------------------------------------------------------------------


def ffmpeg(*args: str) -> None:
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    subprocess.run(argv, check=True, timeout=600)


def make_clips(directory: Path, seconds: int) -> dict[str, Path]:
    """The clip (MP4, H.264/AAC), its MPEG-4 Part 2/MP3 copy (MKV), an FLV remux (RTMP
    participants) and its VP8/Opus encoding as the pusher encodes it (WebRTC participants)."""
    from workers.pusher.builders import CodecPlan, webrtc_codec_args

    clip = sample_video(directory / "clip.mp4", seconds)
    vp8 = CodecPlan("h264", "aac", may_copy=False)
    ffmpeg("-i", str(clip), *webrtc_codec_args(vp8), str(directory / "clip-vp8.mkv"))
    ffmpeg("-i", str(clip), "-c:v", "mpeg4", "-q:v", "2", "-g", "50", "-c:a", "libmp3lame",
           "-b:a", "128k", str(directory / "clip-mpeg4.mkv"))  # fmt: skip
    ffmpeg("-i", str(clip), "-c", "copy", "-f", "flv", str(directory / "clip.flv"))
    names = {"mpeg4": "clip-mpeg4.mkv", "flv": "clip.flv", "vp8": "clip-vp8.mkv"}
    return {"h264": clip, **{kind: directory / name for kind, name in names.items()}}


# ---- the farm -------------------------------------------------------------------------------


class Bench:
    """redis, nginx-rtmp, Janus, the in-process dispatcher; workers per phase."""

    def __init__(self, root: Path) -> None:
        from deploy.local import stack
        from deploy.local.stack import Ports
        from tests.support.janus import JanusServer
        from tests.support.servers import RedisServer, RtmpServer
        from tests.support.tools import free_port

        logs = root / "logs"
        self.redis = RedisServer(root / "redis", logs)
        self.rtmp = RtmpServer(root / "nginx", logs)
        self.janus = JanusServer(root / "janus", logs)
        self.servers = [self.redis, self.rtmp, self.janus]
        for server in self.servers:
            server.start()
        ports = Ports(redis=self.redis.port, rtmp=self.rtmp.port, dispatcher=free_port())
        self.env = stack.farm_env(ports, root / "data")
        os.environ.update(self.env)  # the in-process dispatcher reads the farm's env
        from config.settings import get_settings
        from dispatcher.app import create_app
        from tests.support.farm import FarmFactory
        from tests.support.pusher_helpers import PusherApi
        from tests.support.recorder_helpers import RecorderApi

        self.settings = get_settings()
        self.farm = FarmFactory(self.env, logs)
        client = create_app().test_client()
        self.pusher, self.recorder = PusherApi(client), RecorderApi(client)
        self.cleanups: list[Any] = []  # room publishers still to stop

    @property
    def janus_pid(self) -> int:
        assert self.janus.child is not None and self.janus.child.pid is not None
        return self.janus.child.pid

    def worker(self, pool: str, sessions: int, janus: bool) -> Any:
        env = self.janus.env() if janus else None
        return self.farm(pool, concurrency=max(4, sessions + 1), env=env)

    def measure(self, worker: Any, args: argparse.Namespace, janus: bool) -> dict[str, Any]:
        """The CPU of the worker's tree (and Janus's) over ``seconds``."""
        assert worker.pid is not None
        janus_pid = self.janus_pid if janus else None
        return cpu_window(worker.pid, args.sessions, args.seconds, janus_pid)

    def close(self) -> None:
        for cleanup in reversed(self.cleanups):
            cleanup()
        self.farm.close()
        for server in reversed(self.servers):
            server.stop()


def wait_for(what: str, check: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.25)


def publishing(bench: Bench, room: int, users: list[str]) -> bool:
    people = {p["display"] for p in bench.janus.participants(room) if p.get("publisher")}
    return set(users) <= people


# ---- push phases ---------------------------------------------------------------------------


def push_phase(bench: Bench, url: str, args: argparse.Namespace, janus: bool) -> dict[str, Any]:
    """``sessions`` pushes of ``url`` into the RTMP room, or into Janus room PUSH_ROOM."""
    from tests.support.pusher_helpers import pusher_request, stream_name

    tag = "webrtc" if janus else Path(url).suffix.lstrip(".")
    users = [f"push_{tag}_{i}" for i in range(args.sessions)]
    room = {"roomId": str(PUSH_ROOM)} if janus else {}
    worker = bench.worker("pusher", args.sessions, janus)
    tasks = [bench.pusher.start(pusher_request(url, user, **room)) for user in users]
    try:
        for task in tasks:
            bench.pusher.wait_status(task, "pushing", timeout=60)
            bench.pusher.wait_position(task, 1.0, timeout=60)
        if janus:
            wait_for("the pushes in the Janus room", lambda: publishing(bench, PUSH_ROOM, users))
        else:
            for user in users:
                bench.rtmp.wait_published(stream_name(user), timeout=60)
        time.sleep(args.settle)
        before = [bench.pusher.position(t) for t in tasks]
        figure = bench.measure(worker, args, janus)
        moved = [bench.pusher.position(t) - b for t, b in zip(tasks, before, strict=True)]
        # 1.0: every push kept real time in the window (Position moves in ffmpeg's steps)
        figure["media_s_per_wall_s"] = round(min(moved) / figure["window_s"], 2)
        cpu_s = figure["cores_per_session"] * figure["window_s"] * args.sessions
        figure["cpu_s_per_media_s"] = round(cpu_s / sum(moved), 4) if sum(moved) > 0 else None
    finally:
        for task in tasks:
            bench.pusher.act("Stop", task)
        for task in tasks:
            bench.pusher.finished(task, timeout=60)
        worker.stop()
    return figure


# ---- record phases -------------------------------------------------------------------------


def rtmp_participants(bench: Bench, clip: Path, users: list[str]) -> None:
    """Room users publishing the FLV clip into nginx-rtmp, by stream copy, in real time."""
    from tests.support.recorder_helpers import SDK_APP_ID, push_url

    procs = []
    for user in users:
        argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
                "-stream_loop", "-1", "-i", str(clip), "-c", "copy", "-f", "flv",
                push_url(bench.settings, RTMP_RECORD_ROOM, user)]  # fmt: skip
        procs.append(subprocess.Popen(argv, stderr=subprocess.DEVNULL))

    def stop() -> None:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)

    bench.cleanups.append(stop)
    for user in users:
        bench.rtmp.wait_published(f"{SDK_APP_ID}_{RTMP_RECORD_ROOM}_{user}", timeout=60)


def janus_participants(bench: Bench, clip: Path, users: list[str]) -> None:
    """Room users publishing ``clip`` (already VP8/Opus) into Janus with the pusher's own
    webrtc_publisher process, fed by an ffmpeg that copies the clip in a loop in real time
    (the pusher's pair without its encoding: like the RTMP users, a cheap publisher)."""
    from workers.pusher import builders
    from workers.pusher.builders import CodecPlan, PushInput
    from workers.pusher.webrtc_push import free_tcp_port

    plan = CodecPlan("vp8", "opus", may_copy=False)
    procs = []
    for user in users:
        port = free_tcp_port()
        feed = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
                *builders.input_args(PushInput(str(clip), loops=-1)), "-map", "0", "-c", "copy",
                "-f", "matroska", f"{builders.media_url(port)}?listen=1"]  # fmt: skip
        room = builders.WebRtcRoom(bench.janus.url, str(RECORD_ROOM), user, "", 10)
        relay = builders.publisher_argv(port, room, plan)
        procs.append(subprocess.Popen(feed, stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen(relay, stderr=subprocess.DEVNULL))

    def stop() -> None:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)

    bench.cleanups.append(stop)
    wait_for("the participants in the Janus room", lambda: publishing(bench, RECORD_ROOM, users))


def record_phase(bench: Bench, clip: Path, args: argparse.Namespace, janus: bool) -> dict[str, Any]:
    """``sessions`` Mode 02 recordings of participants publishing ``clip``."""
    from tests.support.recorder_helpers import seeds_request

    tag = "janus" if janus else "rtmp"
    users = [f"rec_{tag}_{i}" for i in range(args.sessions)]
    room = RECORD_ROOM if janus else RTMP_RECORD_ROOM
    (janus_participants if janus else rtmp_participants)(bench, clip, users)
    worker = bench.worker("recorder", args.sessions, janus)
    started = time.monotonic()
    tasks = [bench.recorder.start(seeds_request(u, RoomId=room, Mode="02")) for u in users]
    try:
        for task in tasks:
            bench.recorder.wait_present(task, timeout=60)
        time.sleep(args.settle)
        figure = bench.measure(worker, args, janus)
    finally:
        for task in tasks:
            bench.recorder.act("Stop", task)
        stopped = time.monotonic()
        done = [bench.recorder.finished(task, timeout=300) for task in tasks]
        worker.stop()
        bench.cleanups.pop()()  # the participants leave
    figure["recorded"] = [recorded(bench, d) for d in done]
    durations = [r.get("duration_s", 0.0) for r in figure["recorded"]]
    figure["media_s_per_wall_s"] = round(min(durations) / (stopped - started), 2)
    return figure


def recorded(bench: Bench, done: dict[str, Any]) -> dict[str, Any]:
    """What a recording holds: its codecs and duration (ffprobe), or its error."""
    from tests.support import media
    from tests.support.api import local_file

    if "ErrorCode" in done["Result"]:
        return {"error": done["Result"]["ErrorCode"]}
    (entry,) = done["Result"]["Files"]
    path = local_file(bench.settings, entry["RecordFile"])
    duration = float(media.probe(path)["duration"])
    return {**media.codecs(path), "duration_s": round(duration, 1)}


# ---- the report ----------------------------------------------------------------------------


def ratio(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    base = b["cores_per_session"]
    return round(a["cores_per_session"] / base, 2) if base else None


def run(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    from tests.support.http import StaticServer

    media = root / "www"
    media.mkdir()
    clips = make_clips(media, int(args.settle + args.seconds + 60))
    files = StaticServer(media)
    bench: Bench | None = None
    try:
        bench = Bench(root)
        bench.janus.create_room(PUSH_ROOM, publishers=args.sessions + 2)
        bench.janus.create_room(RECORD_ROOM, publishers=args.sessions + 2)
        push = {
            "rtmp_copy": push_phase(bench, files.url_for("clip.mp4"), args, janus=False),
            "rtmp_encode": push_phase(bench, files.url_for("clip-mpeg4.mkv"), args, janus=False),
            "webrtc": push_phase(bench, files.url_for("clip.mp4"), args, janus=True),
        }
        record = {
            "rtmp": record_phase(bench, clips["flv"], args, janus=False),
            "janus": record_phase(bench, clips["vp8"], args, janus=True),
        }
    finally:
        if bench is not None:
            bench.close()
        files.close()
    push["webrtc_vs_rtmp_copy"] = ratio(push["webrtc"], push["rtmp_copy"])
    push["webrtc_vs_rtmp_encode"] = ratio(push["webrtc"], push["rtmp_encode"])
    per_media = {k: push[k]["cpu_s_per_media_s"] for k in ("webrtc", "rtmp_copy", "rtmp_encode")}
    if all(per_media.values()):
        push["per_media_s"] = {
            "webrtc_vs_rtmp_copy": round(per_media["webrtc"] / per_media["rtmp_copy"], 2),
            "webrtc_vs_rtmp_encode": round(per_media["webrtc"] / per_media["rtmp_encode"], 2),
        }
    record["janus_vs_rtmp"] = ratio(record["janus"], record["rtmp"])
    return {"push": push, "record": record}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2, help="concurrent tasks per figure")
    parser.add_argument("--seconds", type=float, default=20, help="the CPU window")
    parser.add_argument("--settle", type=float, default=5, help="wait before the window")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="capstan-bench-webrtc-") as tmp:
        figures = run(args, Path(tmp))
    report = {
        "machine": {"cores": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)},
        "clip": "640x360 25 fps H.264 ~1 Mbps (keyframe every 2 s) + AAC 128k; rtmp_encode: "
        "its MPEG-4 Part 2/MP3 copy, so the pusher encodes x264/AAC",
        **figures,
        "counts": COUNTS,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
