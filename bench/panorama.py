"""panorama figures for 720p30 recordings of a simple animated page (a frame counter,
a colour, a WebAudio tone): CPU per recording, Start -> first frame (with a warm slot and
without, alternated in the same run; and what an idle slot costs), Stop -> finished,
and how many recordings this machine holds side by side with < 1 % dropped frames.
First, a recording of the flash-and-beep page: the sound's offset against the picture
every --sync-every seconds, its drift, RSS and CPU (--sync-seconds 3600: the hour).

    .venv/bin/python -m bench.panorama [--seconds 60] [--max-concurrent 4] [--concurrent-seconds 20]
    .venv/bin/python -m bench.panorama --only sync --sync-seconds 3600
    .venv/bin/python -m bench.panorama --only outputs   # live output + snapshots vs plain
    .venv/bin/python -m bench.panorama --only startup   # Start -> first frame, warm vs cold
    .venv/bin/python -m bench.panorama --only density   # CPU vs the bare pipeline, levers

Starts its own redis-server and a page server on free ports; tasks go through the
dispatcher (Flask test client) and run in this process (the runtime's run_task in a
thread per task, as the pool's thread workers run them), so every child (Xvfb,
PulseAudio, Chromium, ffmpeg, Playwright's driver) is a descendant of this process.
Prints JSON. Not a test: the figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.common import start_redis

TICK = os.sysconf("SC_CLK_TCK")
MEDIA = frozenset({"chromium", "ffmpeg", "xvfb", "pulseaudio", "playwright-driver"})


# ---- CPU from /proc ------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(ppid, name, utime+stime ticks) of a process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), name, int(fields[11]) + int(fields[12])


def descendants_cpu(root: int, *, split: bool = False) -> dict[int, tuple[str, int]]:
    """Every descendant of ``root``: pid -> (kind, CPU ticks so far); ``split``: Chromium's
    processes by their type (chromium/renderer, chromium/gpu-process, ...)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            table[int(entry.name)] = stat
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, _, _) in table.items():
        children[ppid].append(pid)
    found: dict[int, tuple[str, int]] = {}
    stack = list(children[root])
    while stack:
        pid = stack.pop()
        _, name, ticks = table[pid]
        kind = _kind(name)
        found[pid] = (_chromium_type(pid) if split and kind == "chromium" else kind, ticks)
        stack += children[pid]
    return found


def _kind(name: str) -> str:
    lowered = name.lower()
    for kind in ("chrom", "ffmpeg", "xvfb", "pulseaudio", "node"):
        if kind in lowered:
            return {"chrom": "chromium", "node": "playwright-driver"}.get(kind, kind)
    return name


def _chromium_type(pid: int) -> str:
    """chromium/<its --type> (the browser has none), utilities by their service."""
    try:
        # Chromium rewrites its command line into one space-separated string.
        words = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").split()
    except OSError:
        return "chromium"
    flags = dict(w.decode(errors="replace").partition("=")[::2] for w in words if b"=" in w)
    kind = flags.get("--type", "browser")
    if kind == "utility":
        kind = flags.get("--utility-sub-type", "utility").split(".")[0]  # audio, network
    return f"chromium/{kind}"


class CpuMeter:
    """CPU of this process's children (and of this process) between start() and stop();
    ``split``: Chromium's processes by their type."""

    def __init__(self, *, split: bool = False) -> None:
        self.split = split

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.before = descendants_cpu(os.getpid(), split=self.split)
        self.self_before = sum(os.times()[:2])

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self.t0
        after = descendants_cpu(os.getpid(), split=self.split)
        cores: dict[str, float] = defaultdict(float)
        for pid, (kind, ticks) in after.items():
            start_ticks = self.before.get(pid, (kind, 0))[1]
            cores[kind] += (ticks - start_ticks) / TICK / wall
        cores["python (runtime + Playwright client)"] = (
            sum(os.times()[:2]) - self.self_before
        ) / wall
        return {kind: round(value, 3) for kind, value in sorted(cores.items())}


# ---- driving tasks -------------------------------------------------------------------


class Bench:
    def __init__(self, page_base: str) -> None:
        from dispatcher.app import create_app

        self.client = create_app().test_client()
        self.page_base = page_base

    def post(self, action: str, data: dict[str, Any]) -> dict[str, Any]:
        answer = self.client.post("/v1/panorama", json={"Action": action, "Data": data})
        body: dict[str, Any] = answer.get_json()
        if answer.status_code != 200:
            raise RuntimeError(f"{action}: {body}")
        return body

    def start(
        self, colour: str, tone: int, query: str = "", **extra: Any
    ) -> tuple[str, threading.Thread]:
        """A Start of the bench page (``query`` added to its URL), with ``extra`` fields
        (live outputs, snapshots), run by a session in this process."""
        from workers.common.runtime.loop import run_task
        from workers.panorama.session import PanoramaSession

        url = f"{self.page_base}/colour.html?bg={colour}&tone={tone}"
        url += f"&{query}" if query else ""
        data = {"RecordURL": url, "Width": 1280, "Height": 720, **extra}
        task_id = self.post("Start", data)["TaskID"]
        thread = threading.Thread(target=run_task, args=(task_id, PanoramaSession), daemon=True)
        thread.start()
        return task_id, thread

    def describe(self, task_id: str) -> dict[str, Any]:
        return self.post("Describe", {"TaskID": task_id})

    def wait(self, task_id: str, status: str, timeout: float = 90.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.describe(task_id)
            if body["Status"] == status or body["Status"] == "finished":
                return body
            time.sleep(0.02)
        raise RuntimeError(f"{task_id} did not reach {status}")

    def frames(self, task_id: str) -> tuple[int, int]:
        """(frames written, frames missed): a missed frame is a slot of the 30 fps output
        that no fresh capture filled in time (ffmpeg duplicated the one before)."""
        progress = self.describe(task_id).get("Progress", {})
        return int(progress.get("Frames", 0)), int(progress.get("DuplicatedFrames", 0))


def one_long_recording(bench: Bench, seconds: float) -> dict[str, Any]:
    """CPU per recording (steady state), Start -> first frame, Stop -> finished."""
    started = time.monotonic()
    task_id, thread = bench.start("3366cc", 440)
    recording = bench.wait(task_id, "recording")
    first_frame_s = time.monotonic() - started
    if recording["Status"] != "recording":
        raise RuntimeError(f"the recording did not start: {recording}")
    time.sleep(5)  # past the page's load and the encoder's start
    meter = CpuMeter()
    meter.start()
    frames0, dropped0 = bench.frames(task_id)
    time.sleep(max(seconds - 5, 5))
    cpu = meter.stop()
    frames1, dropped1 = bench.frames(task_id)
    stop_at = time.monotonic()
    bench.post("Stop", {"TaskID": task_id})
    done = bench.wait(task_id, "finished")
    stop_to_finished_s = time.monotonic() - stop_at
    thread.join(30)
    media_cores = sum(v for k, v in cpu.items() if k in MEDIA)
    return {
        "recorded_s": done["Result"]["Videos"][0]["FileDuration"],
        "start_to_first_frame_s": round(first_frame_s, 2),
        "stop_to_finished_s": round(stop_to_finished_s, 2),
        "cores_per_recording": round(media_cores, 3),
        "cores_by_process": cpu,
        "missed_frames_pct": _pct(dropped1 - dropped0, frames1 - frames0),
        "error": done["Result"].get("ErrorCode", ""),
    }


def startup(bench: Bench, rounds: int) -> dict[str, Any]:
    """Start -> first frame (Describe says "recording": the capture runs) with a warm slot
    (workers/panorama/slots.py) and without, alternated ``rounds`` times in this run; and
    what one idle warm slot costs (memory, CPU) while it waits."""
    from config.settings import get_settings
    from workers.panorama import slots

    def once(warm: bool) -> float:
        if warm:
            pool = slots.start_pool(get_settings())
            assert pool is not None, "CAPSTAN_PANORAMA_WARM_SLOTS=0: no warm slots to measure"
            _until(lambda: pool.ready == pool.size, 120)
            time.sleep(2)  # the slot's page settled, as a worker's waits between Starts
        started = time.monotonic()
        task_id, thread = bench.start("3366cc", 440)
        recording = bench.wait(task_id, "recording")
        first_frame_s = time.monotonic() - started
        if warm:
            slots.stop_pool()  # no replacement built during the cold round
        if recording.get("Progress", {}).get("WarmStart") != int(warm):
            raise RuntimeError(f"WarmStart is not {int(warm)}: {recording}")
        time.sleep(2)
        bench.post("Stop", {"TaskID": task_id})
        bench.wait(task_id, "finished")
        thread.join(30)
        return first_frame_s

    figures: dict[str, list[float]] = {"cold": [], "warm": []}
    for i in range(rounds):
        for warm in (False, True) if i % 2 == 0 else (True, False):
            figures["warm" if warm else "cold"].append(round(once(warm), 2))
    idle = idle_slot_cost()
    return {
        "start_to_first_frame_s": {k: _median(v) for k, v in figures.items()},
        "rounds": figures,
        "speedup": round(_median(figures["cold"]) / _median(figures["warm"]), 2),
        **idle,
    }


def idle_slot_cost(seconds: float = 10.0) -> dict[str, float]:
    """Memory (PSS) and CPU of one warm slot waiting for its Start."""
    from config.settings import get_settings
    from workers.panorama import slots

    before = pss_mb(os.getpid())
    pool = slots.start_pool(get_settings())
    assert pool is not None
    try:
        _until(lambda: pool.ready == pool.size, 120)
        time.sleep(3)
        meter = CpuMeter()
        meter.start()
        time.sleep(seconds)
        cpu = meter.stop()
        return {
            "idle_slot_pss_mb": round(pss_mb(os.getpid()) - before, 1),
            "idle_slot_cores": round(sum(v for k, v in cpu.items() if k in MEDIA), 3),
        }
    finally:
        slots.stop_pool()


def _until(condition: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("not within the time")
        time.sleep(0.05)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def pss_mb(root: int) -> float:
    """Memory of ``root``'s descendants (the recording's processes), MB: their PSS, so
    the pages Chromium's processes share are counted once, not once per process."""
    total = 0
    for pid in descendants_cpu(root):
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def sync_over_time(bench: Bench, seconds: float, every_s: float) -> dict[str, Any]:
    """A long recording of the flash-and-beep page: every ``every_s``, the offset of the
    sound against the picture in the file (median of that window's events), RSS and CPU;
    the drift (ms per hour) and the file's length against the time recorded."""
    from tests.support import avsync, bare_capture
    from tests.support.api import local_file

    # The baseline, in the same run: ffmpeg alone on the same page at the same size.
    from workers.panorama.builders import Frame

    home = Path(tempfile.mkdtemp(prefix="bare-"))
    bare_ms = bare_capture.bare_offset_ms(bench.page_base, home, size=Frame(1280, 720)).median_ms
    print(json.dumps({"bare_capture_offset_ms": bare_ms}), flush=True)
    url = f"{bench.page_base}/flashbeep.html"
    task_id = bench.post("Start", {"RecordURL": url, "Width": 1280, "Height": 720})["TaskID"]
    from workers.common.runtime.loop import run_task
    from workers.panorama.session import PanoramaSession

    thread = threading.Thread(target=run_task, args=(task_id, PanoramaSession), daemon=True)
    thread.start()
    bench.wait(task_id, "recording")
    began = time.monotonic()
    windows = []
    while (elapsed := time.monotonic() - began) < seconds:
        meter = CpuMeter()
        meter.start()
        time.sleep(min(every_s, seconds - elapsed))
        cpu = meter.stop()
        progress = bench.describe(task_id).get("Progress", {})
        windows.append(
            {
                "at_s": round(time.monotonic() - began),
                "pss_mb": pss_mb(os.getpid()),
                "cores": round(sum(v for k, v in cpu.items() if k in MEDIA), 3),
                "av_skew_ms": progress.get("AvSkewMs"),
                "dup_frames": progress.get("DuplicatedFrames"),
            }
        )
        print(json.dumps({"sync_window": windows[-1]}), flush=True)
    recorded = time.monotonic() - began
    bench.post("Stop", {"TaskID": task_id})
    done = bench.wait(task_id, "finished", timeout=600)
    thread.join(60)
    from config.settings import get_settings

    path = local_file(get_settings(), done["Result"]["Videos"][0]["FileURL"])
    sync = avsync.measure(path)
    for window in windows:
        end = window["at_s"]
        offsets = sync.between(end - every_s, end)
        window["offset_median_ms"] = (
            round(sorted(offsets)[len(offsets) // 2], 1) if offsets else None
        )
    duration = float(done["Result"]["Videos"][0]["FileDuration"])
    return {
        "seconds": round(recorded, 1),
        "file_duration_s": duration,
        "duration_error_pct": round(100 * (duration - recorded) / recorded, 3),
        "bare_capture_offset_ms": bare_ms,
        "offset": sync.summary(),
        "drift_ms_per_hour": round(sync.drift_ms_per_min() * 60, 1),
        # against the page's own clock: the sound's drift, and the picture's frame steps
        "stream_drift_ms_per_hour": {
            name: round(value, 1) for name, value in sync.stream_drift_ms_per_hour().items()
        },
        "windows": windows,
        "file_bytes": path.stat().st_size,
        "error": done["Result"].get("ErrorCode", ""),
    }


def side_by_side(bench: Bench, count: int, seconds: float) -> dict[str, Any]:
    """``count`` recordings at once; dropped frames of each over ``seconds`` of steady state."""
    tasks = [bench.start(f"{(40 * i) % 256:02x}66cc", 300 + 100 * i) for i in range(count)]
    for task_id, _ in tasks:
        bench.wait(task_id, "recording")
    time.sleep(4)
    before = {task_id: bench.frames(task_id) for task_id, _ in tasks}
    meter = CpuMeter()
    meter.start()
    time.sleep(seconds)
    cpu = meter.stop()
    after = {task_id: bench.frames(task_id) for task_id, _ in tasks}
    for task_id, _ in tasks:
        bench.post("Stop", {"TaskID": task_id})
    for task_id, thread in tasks:
        bench.wait(task_id, "finished")
        thread.join(30)
    drops = [_pct(after[t][1] - before[t][1], after[t][0] - before[t][0]) for t, _ in tasks]
    return {
        "recordings": count,
        "missed_frames_pct": drops,
        "cores_total": round(sum(v for k, v in cpu.items() if k in MEDIA), 3),
    }


def outputs_cost(bench: Bench, rtmp: Any, seconds: float, rounds: int = 2) -> dict[str, Any]:
    """CPU of a recording that also streams live (one RTMP output) and takes a snapshot every
    10 s, against a plain recording of the same page, alternated ``rounds`` times in this
    run (issue 16's target: no second video encode, at most 1.15x)."""
    extras = {
        "plain": {},
        "live_and_snapshots": {
            "LiveOutputs": [{"Url": rtmp.url("bench-live")}],
            "Snapshots": {"IntervalSeconds": 10},
        },
    }
    cores: dict[str, list[float]] = {name: [] for name in extras}
    for _ in range(rounds):
        for name, extra in extras.items():
            task_id, thread = bench.start("3366cc", 440, **extra)
            bench.wait(task_id, "recording")
            time.sleep(5)  # past the page's load, the encoder's and the relay's start
            meter = CpuMeter()
            meter.start()
            time.sleep(seconds)
            cpu = meter.stop()
            progress = bench.describe(task_id).get("Progress", {})
            bench.post("Stop", {"TaskID": task_id})
            done = bench.wait(task_id, "finished", timeout=180)
            thread.join(30)
            if done["Result"].get("ErrorCode"):
                raise RuntimeError(f"{name}: {done['Result']}")
            if extra and not (progress.get("Snapshots") and progress.get("LiveOutputs")):
                raise RuntimeError(f"{name}: no snapshots or live output: {progress}")
            cores[name].append(sum(v for k, v in cpu.items() if k in MEDIA))
    plain = sorted(cores["plain"])[len(cores["plain"]) // 2]
    full = sorted(cores["live_and_snapshots"])[len(cores["live_and_snapshots"]) // 2]
    return {
        "cores": {name: [round(v, 3) for v in values] for name, values in cores.items()},
        "ratio_live_and_snapshots_vs_plain": round(full / plain, 3),
    }


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole > 0 else 100.0


def run_density(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    from bench import density, levers

    return density.density(
        bench,
        seconds=args.density_seconds,
        rounds=args.density_rounds,
        max_concurrent=args.max_concurrent,
        concurrent_seconds=args.concurrent_seconds,
        encoders=levers.ENCODERS,
        lever_variants=() if args.no_levers else levers.LEVERS,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-concurrent", type=int, default=4)
    parser.add_argument("--concurrent-seconds", type=float, default=20.0)
    parser.add_argument("--sync-seconds", type=float, default=120.0, help="3600: the hour")
    parser.add_argument("--sync-every", type=float, default=600.0)
    parser.add_argument(
        "--only", choices=["all", "sync", "outputs", "startup", "density"], default="all"
    )
    parser.add_argument("--density-seconds", type=float, default=20.0)
    parser.add_argument("--density-rounds", type=int, default=2)
    parser.add_argument("--no-levers", action="store_true", help="density: without the levers")
    parser.add_argument("--startup-rounds", type=int, default=3)
    parser.add_argument("--outputs-seconds", type=float, default=30.0)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="capstan-bench-panorama-"))
    redis_proc, port = start_redis(workdir)
    os.environ.update(
        CAPSTAN_REDIS_URL=f"redis://127.0.0.1:{port}",
        CAPSTAN_DATA_DIR=str(workdir / "data"),
        CAPSTAN_URL_ALLOWLIST='["127.0.0.0/8"]',
        # The bench runs its tasks in this process (run_task), not in a worker that registers
        # slots: admission by slots would refuse every Start.
        CAPSTAN_ADMISSION_COUNTS_SLOTS="false",
    )
    from config.settings import reset_settings
    from tests.support.http import StaticServer
    from tests.support.panorama_helpers import PAGES
    from tests.support.servers import RtmpServer

    reset_settings()
    pages = StaticServer(PAGES)
    (workdir / "logs").mkdir()
    rtmp = RtmpServer(workdir / "nginx", workdir / "logs")
    rtmp.start()
    try:
        bench = Bench(pages.url)
        result: dict[str, Any] = {"machine_cores": os.cpu_count(), "load_avg": os.getloadavg()}
        if args.only in ("all", "outputs"):
            result["outputs"] = outputs_cost(bench, rtmp, args.outputs_seconds)
            print(json.dumps({"outputs": result["outputs"]}), flush=True)
            if args.only == "outputs":
                return
        if args.only in ("all", "startup"):
            result["startup"] = startup(bench, args.startup_rounds)
            print(json.dumps({"startup": result["startup"]}), flush=True)
            if args.only == "startup":
                return
        if args.only == "density":
            result["density"] = run_density(bench, args)
            result["load_avg_after"] = os.getloadavg()
            print(json.dumps(result, indent=2))
            return
        every = min(args.sync_every, args.sync_seconds / 2)
        result["sync"] = sync_over_time(bench, args.sync_seconds, every)
        if args.only == "sync":
            print(json.dumps(result, indent=2))
            return
        result["single_720p30"] = one_long_recording(bench, args.seconds)
        result["density"] = run_density(bench, args)
        result["load_avg_after"] = os.getloadavg()
        print(json.dumps(result, indent=2))
    finally:
        rtmp.stop()
        pages.close()
        redis_proc.terminate()
        redis_proc.wait(10)


if __name__ == "__main__":
    main()
