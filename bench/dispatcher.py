"""Dispatcher throughput: Start (panorama) and Describe under concurrent clients.

    .venv/bin/python -m bench.dispatcher [--seconds 10] [--connections 32] [--workers N --threads N]

Starts its own redis-server and gunicorn (dispatcher/gunicorn_conf.py) on free ports,
drives them with wrk (apt-get install wrk) and prints JSON: req/s, p50, p99 per action,
next to a baseline measured in the same run (a bare loop of Celery's send_task and of a
Redis HGETALL, i.e. what one request cannot go below).
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

from bench.common import free_port, start_redis
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


def start_gunicorn(
    env: dict[str, str], args: argparse.Namespace, log: Path
) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "gunicorn", "-c", str(REPO / "dispatcher" / "gunicorn_conf.py"),
            "--access-logfile", "/dev/null", "dispatcher.app:create_app()"]  # fmt: skip
    if args.workers:
        argv[3:3] = ["--workers", str(args.workers)]
    if args.threads:
        argv[3:3] = ["--threads", str(args.threads)]
    out = log.open("wb")
    return subprocess.Popen(argv, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)


def run_wrk(
    url: str, body: dict[str, Any], args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    script = workdir / "post.lua"
    script.write_text(LUA_POST.format(body=json.dumps(body)))
    argv = ["wrk", "-t", "2", "-c", str(args.connections), "-d", f"{args.seconds}s",
            "--latency", "-s", str(script), url]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(out: str) -> dict[str, Any]:
    def latency(pct: str) -> float:
        match = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return round(float(match.group(1)) * _UNITS[match.group(2)], 2) if match else -1.0

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors:.*", out)
    return {
        "req_per_s": round(float(rps.group(1)), 1) if rps else 0.0,
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(0) if socket_errors else "",
    }


def baseline(seconds: float = 3.0) -> dict[str, Any]:
    """One process, one thread: a bare loop of send_task, and of HGETALL."""
    from config.celery import celery_app
    from workers.common.domain.redis_client import store_redis

    app = celery_app()

    def loop(call: Any) -> dict[str, float]:
        count, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            call()
            count += 1
        elapsed = time.perf_counter() - began
        return {
            "ops_per_s": round(count / elapsed, 1),
            "us_per_op": round(elapsed / count * 1e6, 1),
        }

    client = store_redis()
    client.hset("bench:record", mapping={"service": "panorama", "status": "normal", "spec": "{}"})
    return {
        "celery_send_task": loop(
            lambda: app.send_task(
                "capstan.bench.noop", args=["x"], queue="bench", ignore_result=True
            )
        ),
        "redis_hgetall": loop(lambda: client.hgetall("bench:record")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=0, help="default: gunicorn_conf.py")
    parser.add_argument("--threads", type=int, default=0, help="default: gunicorn_conf.py")
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
    })  # fmt: skip
    os.environ.update({k: v for k, v in env.items() if k.startswith("CAPSTAN_")})
    gunicorn = start_gunicorn(env, args, workdir / "gunicorn.log")
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthz")
        answer = requests.post(f"{base}/v1/panorama", json=START_BODY, timeout=5).json()
        task_id = answer["TaskID"]
        start = run_wrk(f"{base}/v1/panorama", START_BODY, args, workdir)
        describe_body = {"Action": "Describe", "Data": {"TaskID": task_id}}
        describe = run_wrk(f"{base}/v1/panorama", describe_body, args, workdir)
        queued = redis.Redis(port=redis_port, db=0).llen("panorama")
        report = {
            "machine": {"cpus": os.cpu_count()},
            "load": {"tool": "wrk -t2", "connections": args.connections, "seconds": args.seconds},
            "gunicorn": {"workers": args.workers or "conf", "threads": args.threads or "conf"},
            "start_panorama": start,
            "describe": describe,
            "messages_queued": queued,
            "baseline_single_thread": baseline(),
            "targets": {"start_req_per_s": 1000, "describe_req_per_s": 2000, "p99_ms": 25},
        }
        print(json.dumps(report, indent=2))
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(20)
        redis_proc.terminate()
        redis_proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
