"""What a person reads: one-line task states, progress bars, tables. Pure functions."""

from __future__ import annotations

import time
from typing import Any

BAR_WIDTH = 24
_UNITS = ("B", "kB", "MB", "GB", "TB")


def size(count: float) -> str:
    value = float(count)
    for unit in _UNITS:
        if value < 1000 or unit == _UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"  # pragma: no cover


def duration(seconds: float) -> str:
    """h:mm:ss, or m:ss under an hour."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def bar(percent: float, width: int = BAR_WIDTH) -> str:
    share = min(max(percent, 0.0), 100.0) / 100
    filled = round(share * width)
    return "[" + "#" * filled + "-" * (width - filled) + f"] {share * 100:5.1f}%"


def clock(unix_s: int | None) -> str:
    if not unix_s:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(unix_s))


def progress(task: dict[str, Any]) -> str:
    """The live figures: recorded time and size, or the pusher's position in its source."""
    figures = task.get("Progress") or {}
    if "Position" in figures:
        position = float(figures.get("Position") or 0)
        total = float(figures.get("Duration") or 0)
        if total > 0:
            percent = float(figures.get("Percent") or position * 100 / total)
            return f"{bar(percent)} {duration(position)}/{duration(total)}"
        return f"{duration(position)} pushed (live source)"
    parts = []
    if "RecordedSeconds" in figures:
        parts.append(f"{duration(float(figures['RecordedSeconds']))} recorded")
    if "Bytes" in figures:
        parts.append(size(float(figures["Bytes"])))
    return ", ".join(parts)


def status_line(task: dict[str, Any]) -> str:
    """`<TaskID> <status> <progress>`: the line `capstan watch` keeps up to date."""
    text = f"{task.get('TaskID', '?')}  {task.get('Status', '?'):<9}"
    shown = progress(task)
    return f"{text}  {shown}" if shown else text


def failure(task: dict[str, Any]) -> str:
    """`ErrorCode: ErrorMessage` of a task that ended badly, or ""."""
    result = task.get("Result") or {}
    if not result.get("ErrorCode"):
        return ""
    return f"{result['ErrorCode']}: {result.get('ErrorMessage', '')}"


def videos(task: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (task.get("Result") or {}).get("Videos") or []
    return found


def file_lines(task: dict[str, Any]) -> list[str]:
    return [
        f"{v.get('FileURL', '')}  ({size(v.get('FileSize') or 0)}, "
        f"{duration(v.get('FileDuration') or 0)})"
        for v in videos(task)
    ]


def describe(task: dict[str, Any]) -> list[str]:
    """A task as `name: value` lines."""
    lines = [
        f"TaskID:    {task.get('TaskID', '')}",
        f"Service:   {task.get('Service', '')}",
        f"Status:    {task.get('Status', '')}",
    ]
    for name in ("CreateTime", "StartTime", "StopTime", "CancelTime", "FinishTime"):
        if task.get(name):
            lines.append(f"{name + ':':<10} {clock(task[name])}")
    if progress(task):
        lines.append(f"Progress:  {progress(task)}")
    if failure(task):
        lines.append(f"Error:     {failure(task)}")
    lines += [f"File:      {line}" for line in file_lines(task)]
    for attempt in (task.get("Callback") or {}).get("Attempts", []):
        outcome = "ok" if attempt.get("Ok") else f"failed: {attempt.get('Error', '')}"
        lines.append(f"Callback:  #{attempt.get('Attempt')} {clock(attempt.get('Time'))} {outcome}")
    return lines


def elapsed(task: dict[str, Any]) -> str:
    start = task.get("StartTime")
    end = task.get("FinishTime") or task.get("StopTime") or task.get("CancelTime")
    if not start:
        return "-"
    return duration((end or time.time()) - start)


def table(tasks: list[dict[str, Any]]) -> list[str]:
    """`capstan ls`: one row per task, newest first (the dispatcher's order)."""
    rows = [("TASKID", "SERVICE", "STATUS", "CREATED", "ELAPSED", "FILE")]
    for task in tasks:
        files = videos(task)
        rows.append(
            (
                str(task.get("TaskID", "")),
                str(task.get("Service", "")),
                str(task.get("Status", "")),
                clock(task.get("CreateTime")),
                elapsed(task),
                str(files[0].get("Filename", "")) if files else failure(task)[:40],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1]
        for row in rows
    ]
