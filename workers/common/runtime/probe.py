"""Worker liveness/readiness probe: ``python -m workers.common.runtime.probe --pool recorder``.

Exits 0 only if Redis answers (the broker db) AND this pod's worker is alive and consuming;
otherwise prints the reason on stderr (the kubelet keeps it in the pod's events) and exits 1.

The heartbeat contract, between the worker and this probe:

- The worker calls :func:`touch_heartbeat` with :func:`heartbeat_path` for its pool from a hook
  that only runs while its consumer loop runs: Celery's ``heartbeat_sent`` signal (every ~2 s
  with ``-E``) is the intended one, wired next to the other worker signals. A worker whose event
  loop is stuck, or that lost its broker connection for good, stops touching the file.
- The file's *mtime* is the heartbeat; its content (the unix time, for humans) is not read.
- The probe fails while the file is missing (the worker is still starting: cover that with the
  startupProbe) or older than ``--max-age`` seconds.
- One worker per pod (the Helm chart's layout), so the path needs only the pool's name; it lives
  under ``data_dir`` (an emptyDir in the chart), so a restarted container starts without one.
- A draining worker (SIGTERM) may stop touching the file: by then the kubelet is killing the pod
  anyway and probe results no longer matter.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import redis

from config.settings import SERVICES, Settings, get_settings

# The pools plus the reconciler's worker: anything that runs `celery worker` in the chart.
PROBED_ROLES: tuple[str, ...] = (*SERVICES, "reconciler")
DEFAULT_MAX_AGE_S = 60.0


def heartbeat_path(pool: str, settings: Settings | None = None) -> Path:
    """Where the worker of ``pool`` keeps its heartbeat file."""
    settings = settings or get_settings()
    return settings.data_dir / "run" / f"worker-{pool}.heartbeat"


def touch_heartbeat(path: Path) -> None:
    """Worker side: mark this worker alive and consuming now. Cheap; safe to call every second."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write-then-rename: the probe never sees a half-written file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(f"{time.time():.0f}\n")
    tmp.replace(path)


def heartbeat_problem(path: Path, max_age_s: float, now: float | None = None) -> str | None:
    """Why the heartbeat at ``path`` does not show a consuming worker, or None if it does."""
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except FileNotFoundError:
        return f"no heartbeat file {path} (worker not started, or not wired to touch_heartbeat)"
    if age > max_age_s:
        return f"heartbeat {path} is {age:.0f}s old (> {max_age_s:.0f}s): worker not consuming"
    return None


def redis_problem(settings: Settings, timeout_s: float) -> str | None:
    """Why the farm's Redis (with Sentinel: its current master) does not answer PING on the
    broker db, or None if it does."""
    from workers.common.domain.redis_client import make_client

    master, password = settings.redis_master_name, settings.redis_sentinel_password
    client = make_client(
        settings.redis_url,
        settings.broker_db,
        master_name=master,
        sentinel_password=password,
        retries=0,
        timeout_s=timeout_s,
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"redis unreachable: {type(exc).__name__}: {exc}"
    finally:
        client.close()
    return None


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m workers.common.runtime.probe", description=__doc__
    )
    parser.add_argument("--pool", required=True, choices=PROBED_ROLES)
    parser.add_argument("--max-age", type=float, default=DEFAULT_MAX_AGE_S, help="seconds")
    parser.add_argument("--redis-timeout", type=float, default=3.0, help="seconds")
    parser.add_argument("--heartbeat", type=Path, help="override the heartbeat file path")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    settings = get_settings()
    path = args.heartbeat or heartbeat_path(args.pool, settings)
    problem = redis_problem(settings, args.redis_timeout) or heartbeat_problem(path, args.max_age)
    if problem:
        print(f"probe {args.pool}: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
