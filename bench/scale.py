"""Horizontal scaling on one machine: throughput of short recordings vs worker processes.

    .venv/bin/python -m bench.scale [--workers 1,2,4] [--tasks 8] [--seconds 3]

A simulation of a pool scaled out to N pods: N recorder worker processes (one recording
slot each, `-c 1`), all consuming the same queue; the dispatcher queues --tasks recorder
Starts (one per room user, each stopped by MaxDurationLimit after --seconds). It starts
its own redis-server, nginx-rtmp, dispatcher and ffmpeg publishers (deploy/local/
stack.py, the command lines `make run` uses). Prints JSON: per N, wall seconds until every
task finished, recordings per minute, and speedup against N=1 measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from bench.common import free_port
from deploy.local import stack
from deploy.local.process import Child

REPO = Path(__file__).resolve().parent.parent
APP = 1400000000
ROOM = 7001


class Farm:
    """redis + nginx-rtmp + dispatcher, and recorder workers on demand."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ports = stack.Ports(redis=free_port(), rtmp=free_port(), dispatcher=free_port())
        self.env = {
            **os.environ,
            **stack.farm_env(self.ports, root / "data"),
            "CAPSTAN_SEGMENT_SECONDS": "1",
            "CAPSTAN_MAX_IDLE_S": "30",
            # python and celery from this checkout's venv
            "PATH": f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        self.children: list[Child] = []
        self.workers: list[Child] = []
        self.url = f"http://127.0.0.1:{self.ports.dispatcher}"

    def _start(self, command: stack.Command, name: str) -> Child:
        child = Child(command, self.root / "log" / f"{name}.log", self.env, cwd=REPO)
        child.start().wait_ready(timeout=60)
        return child

    def up(self) -> None:
        redis_dir = self.root / "redis"
        redis_dir.mkdir(parents=True)
        self.children.append(self._start(stack.redis_command(self.ports.redis, redis_dir), "redis"))
        nginx = self.root / "nginx"
        (nginx / "logs").mkdir(parents=True)
        conf = nginx / "nginx.conf"
        conf.write_text(stack.nginx_conf(self.ports.rtmp, nginx))
        self.children.append(self._start(stack.nginx_command(conf, nginx, self.ports.rtmp), "rtmp"))
        command = stack.dispatcher_command(self.ports.dispatcher, workers=1)
        self.children.append(self._start(command, "dispatcher"))

    def scale_to(self, count: int) -> None:
        self.scale_down()
        broker = f"redis://127.0.0.1:{self.ports.redis}/0"
        for index in range(count):
            node = f"recorder{index}"
            command = stack.worker_command("recorder", 1, broker, socket.gethostname(), node=node)
            self.workers.append(self._start(command, node))

    def scale_down(self) -> None:
        for worker in self.workers:
            worker.stop(grace=20)
        self.workers = []

    def down(self) -> None:
        self.scale_down()
        for child in reversed(self.children):
            child.stop()


def publish(farm: Farm, user: str) -> subprocess.Popen[bytes]:
    """A room user: 640x360 H.264/AAC at ~1 Mbps, in real time, until stopped."""
    url = f"rtmp://127.0.0.1:{farm.ports.rtmp}/live/{APP}_{ROOM}_{user}"
    argv = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
        "-re", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
        "-re", "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000",
        "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "1M", "-g", "25",
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "flv", url,
    ]  # fmt: skip
    return subprocess.Popen(argv)


def run_round(farm: Farm, tasks: int, seconds: int) -> dict[str, Any]:
    started = time.monotonic()
    ids = []
    for index in range(tasks):
        body = {
            "SdkAppId": APP,
            "RoomId": ROOM,
            "UserId": f"u{index}",
            "UserSig": "bench",
            "Mode": "02",
            "MaxDurationLimit": seconds,
        }
        answer = requests.post(f"{farm.url}/v1/recorder", json=body, timeout=10).json()
        ids.append(answer["TaskID"])
    pending = set(ids)
    errors = []
    while pending:
        time.sleep(0.25)
        for task_id in list(pending):
            body = requests.get(f"{farm.url}/v1/tasks/{task_id}", timeout=10).json()
            if body["Status"] == "finished":
                pending.discard(task_id)
                if body["Result"].get("ErrorCode"):
                    errors.append(body["Result"]["ErrorCode"])
        if time.monotonic() - started > 30 * tasks * seconds:
            raise RuntimeError(f"tasks never finished: {sorted(pending)}")
    wall = time.monotonic() - started
    return {
        "tasks": tasks,
        "wall_s": round(wall, 2),
        "recordings_per_min": round(60 * tasks / wall, 2),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=3)
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]

    with tempfile.TemporaryDirectory(prefix="capstan-bench-scale-") as tmp:
        farm = Farm(Path(tmp))
        publishers: list[subprocess.Popen[bytes]] = []
        try:
            farm.up()
            publishers = [publish(farm, f"u{i}") for i in range(args.tasks)]
            time.sleep(3)  # every user is in the room
            rounds = {}
            for count in counts:
                farm.scale_to(count)
                rounds[count] = run_round(farm, args.tasks, args.seconds)
        finally:
            for publisher in publishers:
                publisher.terminate()
            farm.down()

    base = rounds[counts[0]]["recordings_per_min"]
    report = {
        "benchmark": "scale",
        "pool": "recorder",
        "recording_seconds": args.seconds,
        "slots_per_worker": 1,
        "rounds": {
            str(n): {**r, "speedup_vs_first": round(r["recordings_per_min"] / base, 2)}
            for n, r in rounds.items()
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
