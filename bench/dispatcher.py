"""Dispatcher throughput: Start (panorama) and Describe under concurrent clients.

    .venv/bin/python -m bench.dispatcher [--seconds 8] [--rounds 3] [--connections 32]
        [--workers N --threads N]

Starts its own redis-server and dispatcher (dispatcher/serve.py, access line on) on free ports,
drives them with wrk (apt-get install wrk) and prints JSON: req/s, p50, p99 per action
(Start at --connections and at 8, Describe at --connections), each right after its baseline
(a bare single-thread loop of Celery's send_task, of a Redis HGETALL), in --rounds rounds,
and each ratio's median over the rounds. These are the figures of issue 17: Start >= 1.0x
send_task, p99 < 25 ms at 8 connections, Describe >= 0.3x HGETALL. It also counts the
records and the queued messages: every accepted Start leaves one of each.

Each figure comes with the CPU it cost per request (``cpu_us_per_op``: the dispatcher's
processes, or the loop's; ``redis_cpu_us_per_op``: redis-server's), read from /proc: on a
machine that other work shares, req/s moves with the load, CPU per request much less.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
import requests

from bench.common import children_of, cpu_seconds, free_port, start_redis
from config.settings import SERVICES

REPO = Path(__file__).resolve().parent.parent
START_BODY = {"Action": "Start", "Data": {"RecordURL": "https://example.com/class", "Width": 1280}}
LUA_POST = """
wrk.method = "POST"
wrk.body = [[{body}]]
wrk.headers["Content-Type"] = "application/json"
"""


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def start_dispatcher(
    env: dict[str, str], args: argparse.Namespace, log: Path
) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "dispatcher.serve"]
    if args.workers:
        argv += ["--workers", str(args.workers)]
    if args.threads:
        argv += ["--threads", str(args.threads)]
    out = log.open("wb")
    return subprocess.Popen(argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)


class CpuMeter:
    """CPU seconds spent by the served processes (the server's main process and workers) and by
    redis-server, between two readings."""

    def __init__(self, served: int, redis_pid: int) -> None:
        self.served, self.redis_pid = served, redis_pid

    def read(self) -> tuple[float, float]:
        pids = [self.served, *children_of(self.served)]
        return sum(cpu_seconds(pid) for pid in pids), cpu_seconds(self.redis_pid)


def per_op_us(seconds: float, ops: int) -> float:
    return round(seconds / max(ops, 1) * 1e6, 1)


def run_wrk(
    url: str,
    body: dict[str, Any],
    args: argparse.Namespace,
    workdir: Path,
    meter: CpuMeter,
    connections: int | None = None,
) -> dict[str, Any]:
    script = workdir / "post.lua"
    script.write_text(LUA_POST.format(body=json.dumps(body)))
    argv = ["wrk", "-t", "2", "-c", str(connections or args.connections), "-d", f"{args.seconds}s",
            "--latency", "-s", str(script), url]  # fmt: skip
    served, redis_cpu = meter.read()
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    served_after, redis_after = meter.read()
    found = parse_wrk(out)
    found["cpu_us_per_op"] = per_op_us(served_after - served, found["requests"])
    found["redis_cpu_us_per_op"] = per_op_us(redis_after - redis_cpu, found["requests"])
    return found


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(out: str) -> dict[str, Any]:
    def latency(pct: str) -> float:
        match = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return round(float(match.group(1)) * _UNITS[match.group(2)], 2) if match else -1.0

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors:.*", out)
    return {
        "req_per_s": round(float(rps.group(1)), 1) if rps else 0.0,
        "requests": int(total.group(1)) if total else 0,
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(0) if socket_errors else "",
    }


def ratio(measured: dict[str, Any], bare: dict[str, float]) -> float:
    return round(measured["req_per_s"] / bare["ops_per_s"], 2)


class Baseline:
    """One process, one thread: a bare loop of send_task, and of HGETALL."""

    def __init__(self, redis_pid: int, seconds: float = 3.0) -> None:
        from config.celery import celery_app
        from workers.common.domain.redis_client import store_redis

        self.redis_pid, self.seconds = redis_pid, seconds
        self.app = celery_app()
        self.client = store_redis()
        self.client.hset(
            "bench:record", mapping={"service": "panorama", "status": "normal", "spec": "{}"}
        )

    def send_task(self) -> dict[str, float]:
        return self._loop(
            lambda: self.app.send_task(
                "capstan.bench.noop", args=["x"], queue="bench", ignore_result=True
            )
        )

    def hgetall(self) -> dict[str, float]:
        return self._loop(lambda: self.client.hgetall("bench:record"))

    def _loop(self, call: Any) -> dict[str, float]:
        count, began = 0, time.perf_counter()
        cpu, redis_cpu = time.process_time(), cpu_seconds(self.redis_pid)
        while time.perf_counter() - began < self.seconds:
            call()
            count += 1
        elapsed = time.perf_counter() - began
        return {
            "ops_per_s": round(count / elapsed, 1),
            "us_per_op": round(elapsed / count * 1e6, 1),
            "cpu_us_per_op": per_op_us(time.process_time() - cpu, count),
            "redis_cpu_us_per_op": per_op_us(cpu_seconds(self.redis_pid) - redis_cpu, count),
        }


def one_round(
    base: str,
    task_id: str,
    args: argparse.Namespace,
    workdir: Path,
    meter: CpuMeter,
    bare: Baseline,
) -> dict[str, Any]:
    """Each figure right after its own baseline, so that a load which comes and goes on a
    shared machine moves both sides of a ratio alike."""
    send_task = bare.send_task()
    start = run_wrk(f"{base}/v1/panorama", START_BODY, args, workdir, meter)
    start_8 = run_wrk(f"{base}/v1/panorama", START_BODY, args, workdir, meter, 8)
    hgetall = bare.hgetall()
    describe_body = {"Action": "Describe", "Data": {"TaskID": task_id}}
    describe = run_wrk(f"{base}/v1/panorama", describe_body, args, workdir, meter)
    return {
        "start_panorama": start,
        "start_panorama_8_connections": start_8,
        "describe": describe,
        "baseline_single_thread": {"celery_send_task": send_task, "redis_hgetall": hgetall},
        "ratios": {
            "start_vs_send_task": ratio(start, send_task),
            "start_8_vs_send_task": ratio(start_8, send_task),
            "describe_vs_hgetall": ratio(describe, hgetall),
        },
    }


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return round((ordered[middle - 1] + ordered[middle]) / 2, 2)


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each ratio over the rounds, with the spread, and the p99 at 8."""
    ratios = {
        name: {"median": median([r["ratios"][name] for r in rounds]),
               "rounds": [r["ratios"][name] for r in rounds]}
        for name in rounds[0]["ratios"]
    }  # fmt: skip
    p99_8 = [r["start_panorama_8_connections"]["p99_ms"] for r in rounds]
    return {
        "ratios": ratios,
        "start_8_connections_p99_ms": {"median": median(p99_8), "rounds": p99_8},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=0, help="default: Settings")
    parser.add_argument("--threads", type=int, default=0, help="default: Settings")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("bench.dispatcher needs wrk: apt-get install -y wrk")

    workdir = Path(tempfile.mkdtemp(prefix="capstan-bench-"))
    redis_proc, redis_port = start_redis(workdir)
    port = free_port()
    env = dict(os.environ)
    env.update({
        "CAPSTAN_REDIS_URL": f"redis://127.0.0.1:{redis_port}",
        "CAPSTAN_DATA_DIR": str(workdir / "data"),
        "CAPSTAN_PORT": str(port),
        "CAPSTAN_HOST": "127.0.0.1",
        "CAPSTAN_MAX_ACTIVE_TASKS": json.dumps(dict.fromkeys(SERVICES, 10**9)),
        # No worker runs: slots the autoscaler "can reach" let every Start in, through the
        # same slot count a farm's Start pays.
        "CAPSTAN_ADMISSION_AUTOSCALED_SLOTS": json.dumps(dict.fromkeys(SERVICES, 10**9)),
    })  # fmt: skip
    os.environ.update({k: v for k, v in env.items() if k.startswith("CAPSTAN_")})
    server = start_dispatcher(env, args, workdir / "dispatcher.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthz")
        answer = requests.post(f"{base}/v1/panorama", json=START_BODY, timeout=5).json()
        task_id = answer["TaskID"]
        meter = CpuMeter(server.pid, redis_proc.pid)
        bare = Baseline(redis_proc.pid)
        rounds = []
        for number in range(1, args.rounds + 1):
            print(f"round {number} of {args.rounds}", file=sys.stderr, flush=True)
            rounds.append(one_round(base, task_id, args, workdir, meter, bare))
        queued = redis.Redis(port=redis_port, db=0).llen("panorama")
        recorded = redis.Redis(port=redis_port, db=2).zcard("capstan:tasks:panorama")
        report = {
            "machine": {"cpus": os.cpu_count()},
            "load": {
                "tool": "wrk -t2",
                "connections": args.connections,
                "seconds": args.seconds,
                "rounds": args.rounds,
            },
            "server": {
                "workers": args.workers or "settings",
                "threads": args.threads or "settings",
            },
            **summary(rounds),
            "goals": {
                "start_vs_send_task": 1.0,
                "start_8_connections_p99_ms": 25,
                "describe_vs_hgetall": 0.3,
            },
            "records_created": recorded,
            "messages_queued": queued,
            "rounds": rounds,
        }
        print(json.dumps(report, indent=2))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        redis_proc.terminate()
        redis_proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
