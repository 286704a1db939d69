"""Recorder: CPU per concurrent recording, how many this machine holds, Stop -> finished.

    .venv/bin/python -m bench.recorder [--levels 10,20,30,40] [--seconds 15] [--cpu-level 10]

Starts its own redis-server, nginx-rtmp (the room) and a real recorder worker (Celery,
threads), and drives it through the dispatcher (Flask test client), as the integration
tests do. Room users publish a 640x360 ~1 Mbps H.264/AAC file in a loop by stream copy
(cheap: the CPU measured is the recorder's, not a test encoder's). Prints JSON:

- cpu: CPU cores per concurrent recording (the worker process and its ffmpeg children,
  over a steady window), Mode 02 and Mode 00; target <= 0.03 for Mode 02.
- capacity: for each level of concurrent Mode 02 recordings, the video frames each
  recording kept vs the frames the room sent while it recorded; a level holds when no
  recording lost more than LOSS_LIMIT of them. max_without_loss: the highest that held.
- stop_latency_s: Stop -> finished (transcode, upload to the local output) per recording.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import children_of, cpu_seconds

TARGETS = {"cpu_cores_per_mode02_recording": 0.03, "concurrent_recordings": 30}
LOSS_LIMIT = 0.01  # a recording that kept < 99 % of the frames sent lost frames
FPS = 25


def sample_stream(out: Path, seconds: int) -> Path:
    """640x360 H.264 (~1 Mbps, keyframe every 2 s) + AAC, as FLV: a user's camera."""
    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate={FPS}",
            "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000", "-t", str(seconds),
            "-c:v", "libx264", "-preset", "veryfast", "-b:v", "1M", "-maxrate", "1M",
            "-bufsize", "2M", "-g", str(2 * FPS), "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-f", "flv", str(out)]  # fmt: skip
    subprocess.run(argv, check=True, timeout=600)
    return out


def video_frames(path: Path) -> tuple[int, float]:
    """(video packets, video duration) of a recording: a gap in time is frames lost."""
    argv = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-of", "json",
            "-show_entries", "stream=nb_read_packets,duration", str(path)]  # fmt: skip
    data = json.loads(subprocess.run(argv, capture_output=True, check=True, timeout=60).stdout)
    stream = (data.get("streams") or [{}])[0]
    return int(stream.get("nb_read_packets", 0)), float(stream.get("duration", 0) or 0)


class Bench:
    def __init__(self, root: Path) -> None:
        from deploy.local import stack
        from deploy.local.stack import Ports
        from tests.support.servers import RedisServer, RtmpServer
        from tests.support.tools import free_port

        self.root = root
        self.logs = root / "logs"
        self.redis = RedisServer(root / "redis", self.logs)
        self.rtmp = RtmpServer(root / "nginx", self.logs)
        self.redis.start()
        self.rtmp.start()
        ports = Ports(redis=self.redis.port, rtmp=self.rtmp.port, dispatcher=free_port())
        self.env = stack.farm_env(ports, root / "data")
        self.env["CAPSTAN_MAX_ACTIVE_TASKS"] = json.dumps({"recorder": 1000})
        # The in-process dispatcher (its Settings, its Celery app) reads the farm's env.
        os.environ.update(self.env)
        from config.settings import get_settings
        from dispatcher.app import create_app
        from tests.support.farm import FarmFactory
        from tests.support.recorder_helpers import RecorderApi

        self.settings = get_settings()
        self.farm = FarmFactory(self.env, self.logs)
        self.api = RecorderApi(create_app().test_client())
        self.publishers: list[subprocess.Popen[bytes]] = []

    def publish(self, source: Path, users: list[str]) -> None:
        """Room users publishing ``source`` in a loop, by stream copy, in real time."""
        from tests.support.recorder_helpers import SDK_APP_ID, push_url

        for user in users:
            argv = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
                    "-stream_loop", "-1", "-i", str(source), "-c", "copy", "-f", "flv",
                    push_url(self.settings, 43474, user)]  # fmt: skip
            self.publishers.append(subprocess.Popen(argv, stderr=subprocess.DEVNULL))
        for user in users:
            self.rtmp.wait_published(f"{SDK_APP_ID}_43474_{user}", timeout=60)

    def unpublish(self) -> None:
        for proc in self.publishers:
            proc.terminate()
        for proc in self.publishers:
            proc.wait(10)
        self.publishers = []

    def close(self) -> None:
        self.unpublish()
        self.farm.close()
        self.rtmp.stop()
        self.redis.stop()


def run_level(bench: Bench, source: Path, count: int, mode: str, seconds: float) -> dict[str, Any]:
    """``count`` concurrent recordings of ``seconds``: CPU, frames kept, Stop latency."""
    from tests.support.api import local_file
    from tests.support.recorder_helpers import seeds_request

    users = [f"bench_{mode}_{count}_{i}" for i in range(count)]
    bench.publish(source, users)
    worker = bench.farm("recorder", concurrency=count + 2)
    tasks = [bench.api.start(seeds_request(user, Mode=mode)) for user in users]
    for task in tasks:
        bench.api.wait_present(task, timeout=120)
    time.sleep(2)
    assert worker.pid is not None
    pids = [worker.pid, *children_of(worker.pid)]
    before = {pid: cpu_seconds(pid) for pid in pids}
    started = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - started
    used = {pid: cpu_seconds(pid) - before[pid] for pid in pids}
    stops = {}
    for task in tasks:
        bench.api.act("Stop", task)
        stops[task] = time.monotonic()
    latencies, kept = [], []
    for task in tasks:
        done = bench.api.finished(task, timeout=300)
        latencies.append(done["_seen"] - stops[task])
        (entry,) = done["Result"]["Files"]
        if entry["Status"] != 1:
            kept.append(0.0)
            continue
        path = local_file(bench.settings, entry["RecordFile"])
        if mode == "02":
            frames, duration = video_frames(path)
            # The room sent FPS frames a second from the first keyframe the recorder got.
            # Each join of two segments may add one frame's time to the timeline (the
            # concat demuxer's rounding), which is not a frame lost: allow one per join.
            joins = int(duration // bench.settings.segment_seconds)
            kept.append(min(1.0, (frames + joins) / (duration * FPS)) if duration else 0.0)
    worker.stop()
    bench.unpublish()
    worker_cpu = used.pop(worker.pid)
    result: dict[str, Any] = {
        "recordings": count,
        "mode": mode,
        "window_s": round(wall, 1),
        "cpu_cores_per_recording": round((sum(used.values()) + worker_cpu) / wall / count, 4),
        "ffmpeg_cores_per_recording": round(sum(used.values()) / wall / count, 4),
        "worker_process_cores": round(worker_cpu / wall, 4),
        "stop_latency_s": {
            "median": round(statistics.median(latencies), 2),
            "max": round(max(latencies), 2),
        },
    }
    if mode == "02":
        result["frames_kept_min"] = round(min(kept), 4)
        result["lost_frames"] = any(k < 1 - LOSS_LIMIT for k in kept)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="10,20,30,40")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--cpu-level", type=int, default=10, help="recordings for Mode 00 CPU")
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    with tempfile.TemporaryDirectory(prefix="capstan-bench-recorder-") as tmp:
        root = Path(tmp)
        source = sample_stream(root / "user.flv", 30)
        bench = Bench(root)
        try:
            runs = [run_level(bench, source, n, "02", args.seconds) for n in levels]
            mode00 = run_level(bench, source, args.cpu_level, "00", args.seconds)
        finally:
            bench.close()
    held = [r["recordings"] for r in runs if not r["lost_frames"]]
    smallest = min(runs, key=lambda r: r["recordings"])
    print(
        json.dumps(
            {
                "cpu": {
                    "mode02_cores_per_recording": smallest["cpu_cores_per_recording"],
                    "mode00_cores_per_recording": mode00["cpu_cores_per_recording"],
                    "at_recordings": {"mode02": smallest["recordings"], "mode00": args.cpu_level},
                },
                "capacity": {"levels": runs, "max_without_loss": max(held, default=0)},
                "stop_latency_s": {str(r["recordings"]): r["stop_latency_s"] for r in runs}
                | {f"{args.cpu_level} (mode 00)": mode00["stop_latency_s"]},
                "targets": TARGETS,
                "machine": {"cpus": os.cpu_count()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
