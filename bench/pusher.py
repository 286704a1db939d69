"""Pusher: CPU per copy-path push, pacing drift, and resume error after a killed worker.

    .venv/bin/python -m bench.pusher [--pushes 4] [--cpu-seconds 20] [--drift-seconds 60]

Starts its own redis-server, nginx-rtmp (the room), a static file server and a real
pusher worker (Celery, threads), and drives them through the dispatcher (Flask test
client), as the integration tests do. Prints JSON:

- cpu: CPU cores per concurrent push of a 640x360 H.264/AAC file (copy path), for the
  ffmpeg children alone and with the worker process's own share; target <= 0.03.
- drift: media seconds a room subscriber received vs wall seconds, over --drift-seconds,
  measured on one of those pushes while they all run; target <= 0.5 %.
- resume: after SIGKILL of the worker mid-push (redis: true), where a new Start resumes
  vs where the room last was (from frames that show their own time); target <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import children_of, cpu_seconds

TARGETS = {"cpu_cores_per_push": 0.03, "drift_percent": 0.5, "resume_error_s": 1.0}


def sample_video(out: Path, seconds: int) -> Path:
    """640x360 H.264 (~1 Mbps, keyframe every 2 s) + AAC: what a lesson video looks like."""
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
            "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000", "-t", str(seconds),
            "-c:v", "libx264", "-preset", "veryfast", "-b:v", "1M", "-g", "50",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-ac", "2", str(out)]  # fmt: skip
    subprocess.run(argv, check=True, timeout=600)
    return out


class Bench:
    def __init__(self, root: Path) -> None:
        from deploy.local import stack
        from deploy.local.stack import Ports
        from tests.support.servers import RedisServer, RtmpServer
        from tests.support.tools import free_port

        self.root = root
        logs = root / "logs"
        self.redis = RedisServer(root / "redis", logs)
        self.rtmp = RtmpServer(root / "nginx", logs)
        self.redis.start()
        self.rtmp.start()
        ports = Ports(redis=self.redis.port, rtmp=self.rtmp.port, dispatcher=free_port())
        self.env = stack.farm_env(ports, root / "data")
        # The in-process dispatcher (its Settings, its Celery app) reads the farm's env.
        os.environ.update(self.env)
        from dispatcher.app import create_app
        from tests.support.farm import FarmFactory
        from tests.support.pusher_helpers import PusherApi

        self.farm = FarmFactory(self.env, logs)
        self.api = PusherApi(create_app().test_client())

    def close(self) -> None:
        self.farm.close()
        self.rtmp.stop()
        self.redis.stop()


def collect(into: list[Any], url: str, count: int, timeout: float = 60.0) -> None:
    """A room subscriber in a thread: the frames it received, into ``into``."""
    from tests.support.pusher_helpers import room_frames

    into.extend(room_frames(url, count, timeout=timeout))


def measure_cpu_and_drift(bench: Bench, url: str, pushes: int, cpu_s: float, drift_s: float):
    from tests.support.pusher_helpers import pacing, pusher_request, stream_name

    worker = bench.farm("pusher", concurrency=max(4, pushes + 1))
    tasks = [bench.api.start(pusher_request(url, f"bench_{i}")) for i in range(pushes)]
    for task in tasks:
        bench.api.wait_status(task, "pushing", timeout=60)
    frames: list[Any] = []
    count = int((drift_s + 5) * 25)
    url0 = bench.rtmp.url(stream_name("bench_0"))
    watch = threading.Thread(target=collect, args=(frames, url0, count, drift_s + 60))
    watch.start()
    time.sleep(3)  # every push past its start-up
    assert worker.pid is not None
    pids = [worker.pid, *children_of(worker.pid)]
    before = {pid: cpu_seconds(pid) for pid in pids}
    started = time.monotonic()
    time.sleep(cpu_s)
    wall = time.monotonic() - started
    used = {pid: cpu_seconds(pid) - before[pid] for pid in pids}
    ffmpeg_cpu = sum(v for pid, v in used.items() if pid != worker.pid)
    watch.join()
    for task in tasks:
        bench.api.act("Stop", task)
    for task in tasks:
        bench.api.finished(task)
    worker.stop()
    media, wall_seen = pacing(frames)
    return {
        "pushes": pushes,
        "seconds": round(wall, 1),
        "ffmpeg_cores_per_push": round(ffmpeg_cpu / wall / pushes, 4),
        "cpu_cores_per_push": round((ffmpeg_cpu + used[worker.pid]) / wall / pushes, 4),
        "worker_process_cores": round(used[worker.pid] / wall, 4),
    }, {
        "media_s": round(media, 3),
        "wall_s": round(wall_seen, 3),
        "drift_percent": round(100 * abs(media - wall_seen) / wall_seen, 3),
    }


def measure_resume(bench: Bench, url: str, trials: int) -> dict[str, Any]:
    from tests.support.pusher_helpers import (
        ROOM_ID,
        SDK_APP_ID,
        publish_start,
        pusher_request,
        room_frames,
    )
    from tests.support.pusher_helpers import stream_name as name
    from workers.pusher.progress import progress_key

    errors, stored_errors = [], []
    for trial in range(trials):
        user = f"bench_resume_{trial}"
        body = pusher_request(url, user, redis=True)
        worker = bench.farm("pusher", concurrency=2)
        task = bench.api.start(body)
        bench.api.wait_status(task, "pushing", timeout=60)
        seen: list[Any] = []
        watch = threading.Thread(target=collect, args=(seen, bench.rtmp.url(name(user)), 10_000))
        watch.start()
        bench.api.wait_position(task, 8 + 2 * trial, timeout=60)
        worker.kill()
        watch.join()
        last_seen = seen[-1].source_s  # where the room was when the worker died
        key = progress_key(url, SDK_APP_ID, ROOM_ID, user)
        stored = float(bench.redis.client(2).hget(key, "Position") or 0)
        worker = bench.farm("pusher", concurrency=2)
        again = bench.api.start(body)
        bench.api.wait_status(again, "pushing", timeout=60)
        resumed = publish_start(room_frames(bench.rtmp.url(name(user)), 25))
        bench.api.act("Stop", again)
        bench.api.finished(again)
        bench.redis.client(2).delete(key)
        worker.stop()
        errors.append(resumed - last_seen)
        stored_errors.append(resumed - stored)
    return {
        "trials": trials,
        "resume_error_s": [round(e, 2) for e in errors],
        "max_abs_resume_error_s": round(max(abs(e) for e in errors), 2),
        "vs_stored_position_s": [round(e, 2) for e in stored_errors],
        "note": "negative: the resumed push repeats that much; positive: it skips",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=4)
    parser.add_argument("--cpu-seconds", type=float, default=20)
    parser.add_argument("--drift-seconds", type=float, default=60)
    parser.add_argument("--resume-trials", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="capstan-bench-pusher-") as tmp:
        root = Path(tmp)
        media = root / "www"
        media.mkdir()
        length = int(args.drift_seconds + 30)
        sample_video(media / "lesson.mp4", length)
        from tests.support.http import StaticServer
        from tests.support.pusher_helpers import timecode_video

        timecode_video(media / "timecode.mp4", 30)
        files = StaticServer(media)
        bench = Bench(root)
        try:
            cpu, drift = measure_cpu_and_drift(
                bench,
                files.url_for("lesson.mp4"),
                args.pushes,
                args.cpu_seconds,
                args.drift_seconds,
            )
            resume = measure_resume(bench, files.url_for("timecode.mp4"), args.resume_trials)
        finally:
            bench.close()
            files.close()
    report = {
        "machine": {"cores": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)},
        "cpu": cpu,
        "drift": drift,
        "resume": resume,
        "targets": TARGETS,
        "met": {
            "cpu": cpu["cpu_cores_per_push"] <= TARGETS["cpu_cores_per_push"],
            "drift": drift["drift_percent"] <= TARGETS["drift_percent"],
            "resume": resume["max_abs_resume_error_s"] <= TARGETS["resume_error_s"],
        },
        "median_resume_error_s": round(statistics.median(resume["resume_error_s"]), 2),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
