"""Density (issue 17): what a 720p30 recording of the bench page costs, against the bare
pipeline (bench/bare.py) in the same run; where the CPU goes (per process kind); what the
encoder settings keep of the picture (PSNR and SSIM against a lossless capture of the same
page); the levers, each against the baseline in the same run; and recordings side by side.

    .venv/bin/python -m bench.panorama --only density [--density-rounds 2] [--no-levers]

CPU is read from /proc for every descendant of the bench (bench/panorama.py's CpuMeter).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import pacing
from bench.bare import BARE_VIDEO, BareStack, Variant
from bench.levers import farm_video
from bench.panorama import Bench, CpuMeter, _pct, side_by_side
from config.settings import get_settings
from tests.support.api import local_file
from workers.common.media.process import ManagedProcess
from workers.panorama import builders
from workers.panorama.builders import Frame
from workers.panorama.capture import read_progress

FRAME = Frame(1280, 720)
PAGE = f"colour.html?bg=3366cc&tone=440&{pacing.PAGE_QUERY}"
# What a recording's processes are called in /proc (parec: the sink listener).
RECORDING_KINDS = frozenset(
    {"chromium", "ffmpeg", "xvfb", "pulseaudio", "parec", "playwright-driver"}
)
PYTHON = "python (runtime + Playwright client)"
PAGE_SETTLE_S = 5.0  # Chromium's start and the page's load, before a grab is measured
GRAB_WARMUP_S = 3.0  # the encoder's start, before its CPU is measured


def _recording(kind: str) -> bool:
    return kind.split("/", maxsplit=1)[0] in RECORDING_KINDS


def recording_cores(cpu: dict[str, float], *, python: bool = False) -> float:
    total = sum(v for k, v in cpu.items() if _recording(k))
    return round(total + (cpu.get(PYTHON, 0.0) if python else 0.0), 3)


# ---- the bare pipeline and its variants ------------------------------------------------


def measure_grab(stack: BareStack, variant: Variant, workdir: Path, seconds: float) -> dict:
    """CPU of the stack and one ffmpeg grabbing it with ``variant``'s encoder."""
    out = workdir / f"{variant.name}-{time.monotonic_ns()}.mp4"
    proc = ManagedProcess("ffmpeg-bare", stack.grab(out, variant)).start()
    try:
        time.sleep(GRAB_WARMUP_S)
        progress = out.with_suffix(".progress")
        before = read_progress(progress)
        meter = CpuMeter(split=True)
        meter.start()
        time.sleep(seconds)
        cpu = meter.stop()
        after = read_progress(progress)
    finally:
        proc.stop(quit_key=True, grace_s=5)
        proc.close()
    picture = pacing.pacing(pacing.steps(out, FRAME))
    out.unlink(missing_ok=True)
    return {
        "cores": recording_cores(cpu),
        "by_process": _kinds(cpu),
        "missed_frames_pct": _pct(after.dup - before.dup, after.frames - before.frames),
        "pacing": picture,
    }


def bare_run(page_url: str, variant: Variant, workdir: Path, seconds: float) -> dict:
    """A fresh bare stack with ``variant``, measured once."""
    stack = BareStack(page_url, FRAME, variant).start()
    try:
        time.sleep(PAGE_SETTLE_S)
        return measure_grab(stack, variant, workdir, seconds)
    finally:
        stack.close()


def _kinds(cpu: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in cpu.items() if _recording(k) or k == PYTHON}


# ---- a farm recording ---------------------------------------------------------------------


def farm_run(bench: Bench, seconds: float) -> dict:
    """One panorama task of the bench page, measured in its steady state."""
    task_id, thread = bench.start("3366cc", 440, pacing.PAGE_QUERY)
    recording = bench.wait(task_id, "recording")
    if recording["Status"] != "recording":
        raise RuntimeError(f"the recording did not start: {recording}")
    time.sleep(GRAB_WARMUP_S + 1)  # past the page's load and the encoder's start
    frames0, missed0 = bench.frames(task_id)
    meter = CpuMeter(split=True)
    meter.start()
    time.sleep(seconds)
    cpu = meter.stop()
    frames1, missed1 = bench.frames(task_id)
    bench.post("Stop", {"TaskID": task_id})
    done = bench.wait(task_id, "finished")
    thread.join(30)
    if done["Result"].get("ErrorCode"):
        raise RuntimeError(f"the recording failed: {done['Result']}")
    video = local_file(get_settings(), done["Result"]["Videos"][0]["FileURL"])
    return {
        "cores": recording_cores(cpu),
        "cores_with_python": recording_cores(cpu, python=True),
        "by_process": _kinds(cpu),
        "missed_frames_pct": _pct(missed1 - missed0, frames1 - frames0),
        "pacing": pacing.pacing(pacing.steps(video, FRAME)),
    }


def farm_against_bare(bench: Bench, workdir: Path, seconds: float, rounds: int) -> dict:
    """A farm recording and a bare pipeline, alternated ``rounds`` times in this run."""
    page_url = f"{bench.page_base}/{PAGE}"
    farm, bare = [], []
    for i in range(rounds):
        order = ("farm", "bare") if i % 2 == 0 else ("bare", "farm")
        for kind in order:
            if kind == "farm":
                farm.append(farm_run(bench, seconds))
            else:
                bare.append(bare_run(page_url, Variant(), workdir, seconds))
    farm_cores = statistics.median(r["cores"] for r in farm)
    bare_cores = statistics.median(r["cores"] for r in bare)
    return {
        "farm_cores": round(farm_cores, 3),
        "farm_cores_with_python": round(statistics.median(r["cores_with_python"] for r in farm), 3),
        "bare_cores": round(bare_cores, 3),
        "ratio_farm_vs_bare": round(farm_cores / bare_cores, 3),
        "farm_by_process": _median_kinds([r["by_process"] for r in farm]),
        "bare_by_process": _median_kinds([r["by_process"] for r in bare]),
        "farm_missed_frames_pct": [r["missed_frames_pct"] for r in farm],
        "bare_missed_frames_pct": [r["missed_frames_pct"] for r in bare],
        # what a viewer sees of the page's motion (bench/pacing.py), each round
        "farm_pacing": _pacing_rounds(farm),
        "bare_pacing": _pacing_rounds(bare),
        "rounds": {"farm": [r["cores"] for r in farm], "bare": [r["cores"] for r in bare]},
    }


def _pacing_rounds(runs: list[dict]) -> dict[str, list]:
    return {
        "page_frames_per_file_frame": [r["pacing"]["page_frames_per_file_frame"] for r in runs],
        "uneven_steps_pct": [r["pacing"]["uneven_steps_pct"] for r in runs],
    }


def _median_kinds(runs: list[dict[str, float]]) -> dict[str, float]:
    kinds = {k for run in runs for k in run}
    return {k: round(statistics.median(run.get(k, 0.0) for run in runs), 3) for k in sorted(kinds)}


# ---- levers ---------------------------------------------------------------------------------


def levers(page_url: str, workdir: Path, variants: Sequence[Variant], seconds: float) -> dict:
    """Each variant against the baseline, in adjacent runs: a variant that only changes
    ffmpeg is measured on the baseline's own stack (grab, grab), one that changes the
    stack (Xvfb, Chromium) on a stack of its own."""
    baseline = Variant()
    results: dict[str, Any] = {}
    stack = BareStack(page_url, FRAME, baseline).start()
    try:
        time.sleep(PAGE_SETTLE_S)
        for variant in variants:
            if variant.stack != baseline.stack:
                continue
            base = measure_grab(stack, baseline, workdir, seconds)
            lever = measure_grab(stack, variant, workdir, seconds)
            results[variant.name] = _against(lever, base)
    finally:
        stack.close()
    for variant in variants:
        if variant.stack == baseline.stack:
            continue
        base = bare_run(page_url, baseline, workdir, seconds)
        lever = bare_run(page_url, variant, workdir, seconds)  # its stack and its encoder
        results[variant.name] = _against(lever, base)
    return results


def _against(lever: dict, base: dict) -> dict:
    return {
        "cores": lever["cores"],
        "baseline_cores": base["cores"],
        "ratio": round(lever["cores"] / base["cores"], 3),
        "by_process": lever["by_process"],
        "baseline_by_process": base["by_process"],
        "missed_frames_pct": lever["missed_frames_pct"],
    }


# ---- inside ffmpeg --------------------------------------------------------------------------

# Each step of the farm's ffmpeg on its own, into the null muxer: the difference between two
# rows is what a step costs (the grab; the colour conversion; x264; the sound).
STEPS: dict[str, tuple[bool, tuple[str, ...]]] = {
    "grab": (False, ("-c:v", "rawvideo")),
    "grab + yuv420p (bicubic)": (False, ("-pix_fmt", "yuv420p", "-c:v", "rawvideo")),
    "grab + yuv420p (nearest)": (False, ("-vf", builders.TO_YUV420, "-c:v", "rawvideo")),
    "grab + yuv420p + x264 veryfast": (False, BARE_VIDEO),
    "grab + farm encoder": (False, farm_video()),
    "pulse + aac": (True, ("-c:a", "aac", "-b:a", "128k")),
}


def inside_ffmpeg(page_url: str, seconds: float) -> dict[str, float]:
    """ffmpeg's CPU (cores) for each of STEPS, on one bare stack of the page."""
    stack = BareStack(page_url, FRAME).start()
    try:
        time.sleep(PAGE_SETTLE_S)
        cores = {}
        for name, (audio, step) in STEPS.items():
            argv = ["ffmpeg", "-hide_banner", "-loglevel", "fatal", *stack.inputs(audio=audio),
                    "-t", str(seconds), *step, "-f", "null", "-"]  # fmt: skip
            cores[name] = round(_child_cpu_s(argv) / seconds, 3)
        return cores
    finally:
        stack.close()


# ---- picture quality ------------------------------------------------------------------------

_PSNR = re.compile(r"PSNR .*average:([\d.inf]+)")
_SSIM = re.compile(r"SSIM .*All:([\d.]+)")


def quality(page_url: str, workdir: Path, encoders: Sequence[Variant], seconds: float) -> dict:
    """A lossless capture of the page (RGB as grabbed), then each encoder on the same frames:
    PSNR and SSIM (RGB) of what it decodes to against the lossless frames, its bitrate and
    its encode CPU (seconds of CPU per second of video)."""
    reference = workdir / "lossless.nut"
    stack = BareStack(page_url, FRAME).start()
    try:
        time.sleep(PAGE_SETTLE_S)
        subprocess.run(stack.lossless(reference, seconds), check=True, stdin=subprocess.DEVNULL)
    finally:
        stack.close()
    results = {}
    for encoder in encoders:
        out = workdir / f"quality-{encoder.name}.mp4"
        argv = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", str(reference),
                *encoder.before_encode, *encoder.video, "-an", "-y", str(out)]  # fmt: skip
        cpu_s = _child_cpu_s(argv)
        psnr, ssim = compare(out, reference)
        results[encoder.name] = {
            "psnr_db": psnr,
            "ssim": ssim,
            "kbit_s": round(out.stat().st_size * 8 / seconds / 1000),
            "encode_cpu_s_per_s": round(cpu_s / seconds, 3),
        }
    return {"seconds": seconds, "page": PAGE, "encoders": results}


def compare(encoded: Path, reference: Path) -> tuple[float, float]:
    """(PSNR dB, SSIM) of ``encoded`` against ``reference``, both as planar RGB."""
    # Frame n against frame n, whatever their timestamps.
    graph = ("[0:v]setpts=N/30/TB,format=gbrp,split[a1][a2];"
             "[1:v]setpts=N/30/TB,format=gbrp,split[b1][b2];[a1][b1]psnr;[a2][b2]ssim")  # fmt: skip
    argv = ["ffmpeg", "-hide_banner", "-nostats", "-i", str(encoded), "-i", str(reference),
            "-lavfi", graph, "-f", "null", "-"]  # fmt: skip
    text = subprocess.run(argv, capture_output=True, text=True, check=True).stderr
    psnr, ssim = _PSNR.search(text), _SSIM.search(text)
    if psnr is None or ssim is None:
        raise RuntimeError(f"no PSNR/SSIM in: {text[-500:]}")
    return round(float(psnr.group(1)), 2), round(float(ssim.group(1)), 5)


def _child_cpu_s(argv: list[str]) -> float:
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{argv[:6]}... exited {proc.returncode}")
    return usage.ru_utime + usage.ru_stime


# ---- the whole figure -------------------------------------------------------------------------


def density(
    bench: Bench,
    *,
    seconds: float,
    rounds: int,
    max_concurrent: int,
    concurrent_seconds: float,
    encoders: Sequence[Variant],
    lever_variants: Sequence[Variant] = (),
) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="capstan-density-"))
    page_url = f"{bench.page_base}/{PAGE}"
    try:
        result: dict[str, Any] = {
            "per_recording": farm_against_bare(bench, workdir, seconds, rounds),
            "quality": quality(page_url, workdir, encoders, seconds=8),
            "inside_ffmpeg_cores": inside_ffmpeg(page_url, seconds=8),
        }
        if lever_variants:
            result["levers"] = levers(page_url, workdir, lever_variants, seconds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # the lossless capture and the encodes
    levels = []
    for count in range(1, max_concurrent + 1):
        levels.append(side_by_side(bench, count, concurrent_seconds))
    result["side_by_side"] = levels
    held = [lv["recordings"] for lv in levels if max(lv["missed_frames_pct"]) < 1.0]
    result["concurrent_720p30_under_1pct_missed"] = max(held, default=0)
    return result
