"""One function per command: it calls the client and writes through Output.

Exit codes (documented in `capstan --help`):
    0  done
    1  the farm refused the request (its ErrorCode is printed: InvalidParam, AuthFailure,
       TaskNotFound, InvalidState, LimitExceeded, ServiceUnavailable, ...)
    2  bad command line (or the CLI's own configuration)
    3  the dispatcher is unreachable or did not answer as the API does
    4  the task ended with an error (watch, start --wait, fetch of a failed task)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urljoin, urlsplit

from cli import render
from cli.client import ApiError, Client
from workers.common.domain import states

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_TASK_FAILED = 4
EXIT_INTERRUPTED = 130

TERMINAL = frozenset(status.value for status in states.TERMINAL)


@dataclass
class Output:
    """Where results go: human lines, or with --json the API's raw answers."""

    as_json: bool = False
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)

    def line(self, text: str = "") -> None:
        if not self.as_json:
            print(text, file=self.out, flush=True)

    def raw(self, body: Any) -> None:
        if self.as_json:
            print(json.dumps(body, indent=2, ensure_ascii=False), file=self.out, flush=True)

    def note(self, text: str) -> None:
        print(text, file=self.err, flush=True)

    def live(self, text: str, previous: str) -> None:
        """Rewrite the current line on a terminal; otherwise print each new state once."""
        if self.as_json:
            return
        if self.out.isatty():
            print("\r" + text + "\x1b[K", end="", file=self.out, flush=True)
        elif text != previous:
            print(text, file=self.out, flush=True)

    def end_live(self) -> None:
        if not self.as_json and self.out.isatty():
            print(file=self.out, flush=True)


# ---- start ------------------------------------------------------------------------


def panorama_data(args: argparse.Namespace) -> dict[str, Any]:
    data: dict[str, Any] = {"RecordURL": args.record_url}
    if args.size:
        data["Width"], data["Height"] = args.size
    if args.max_duration is not None:
        data["MaxDurationLimit"] = args.max_duration
    if args.manual_start:
        data["ManualStart"] = True
    if args.callback:
        data["CallbackURL"] = args.callback
    video: dict[str, Any] = {}
    if args.muxer:  # one format as the seeds write it, several as a list
        video["Muxer"] = args.muxer[0] if len(args.muxer) == 1 else args.muxer
    elif args.hls or args.encrypt_key:
        video["Muxer"] = "hls"
    if args.encrypt_key:
        video["EncryptKey"] = args.encrypt_key
    if args.auth_url:
        video["AuthUrl"] = args.auth_url
    if video:
        data["Video"] = video
    if args.name:
        data["Output"] = {"Cos": {"TargetName": args.name}}
    if args.live:
        data["LiveOutputs"] = [{"Url": url} for url in args.live]
    if args.pause_frame:
        data["PauseFrame"] = args.pause_frame
    return _with_snapshots(data, args)


def recorder_data(args: argparse.Namespace) -> dict[str, Any]:
    room_key = "RoomId" if args.room.isdigit() else "StrRoomId"
    data: dict[str, Any] = {
        "SdkAppId": args.app,
        room_key: int(args.room) if room_key == "RoomId" else args.room,
        "UserId": args.user,
        "UserSig": args.sig,
        "Mode": args.mode,
    }
    if args.max_duration is not None:
        data["MaxDurationLimit"] = args.max_duration
    if args.callback:
        data["Callback"] = args.callback
    return _with_snapshots(data, args)


def _with_snapshots(data: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    if args.snapshots is not None:
        data["Snapshots"] = {"IntervalSeconds": args.snapshots}
    return data


def pusher_data(args: argparse.Namespace) -> dict[str, Any]:
    data: dict[str, Any] = {
        "videoSrc": args.source,
        "sdkAppId": str(args.app),
        "roomId": args.room,
        "userId": args.user,
        "userSig": args.sig,
    }
    if args.seek:
        data["SeekSecond"] = args.seek
    if args.loop:
        data["Loop"] = args.loop
    return data


# A Start body per service of the farm (workers/common/domain/services.py); the parser's start
# commands are these keys.
BUILDERS = {"panorama": panorama_data, "recorder": recorder_data, "pusher": pusher_data}


def start(args: argparse.Namespace, client: Client, out: Output) -> int:
    answer = client.action(args.service, "Start", BUILDERS[args.service](args))
    task_id = str(answer["TaskID"])
    if not args.wait:
        out.raw(answer)
        out.line(task_id)
        return EXIT_OK
    out.line(task_id)
    return follow(client, out, task_id, args.interval)


# ---- one task ---------------------------------------------------------------------


def control(args: argparse.Namespace, client: Client, out: Output) -> int:
    """pause / resume / refresh / stop: posted to the task's own service."""
    service = args.service or str(client.task(args.task_id)["Service"])
    answer = client.action(service, args.action, {"TaskID": args.task_id})
    out.raw(answer)
    out.line(f"{args.action} accepted for {answer.get('TaskID', args.task_id)}")
    return EXIT_OK


def describe(args: argparse.Namespace, client: Client, out: Output) -> int:
    task = client.task(args.task_id)
    out.raw(task)
    for text in render.describe(task):
        out.line(text)
    return EXIT_OK


def watch(args: argparse.Namespace, client: Client, out: Output) -> int:
    return follow(client, out, args.task_id, args.interval)


def follow(client: Client, out: Output, task_id: str, interval: float) -> int:
    """Poll until the task is finished or canceled; the file URLs, or why it failed."""
    shown = ""
    try:
        while True:
            task = client.task(task_id)
            text = render.status_line(task)
            out.live(text, shown)
            shown = text
            if task.get("Status") in TERMINAL:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        out.end_live()
        out.note(f"stopped watching; the task goes on (capstan stop {task_id} ends it)")
        return EXIT_INTERRUPTED
    out.end_live()
    out.raw(task)
    return ended(task, out)


def ended(task: dict[str, Any], out: Output) -> int:
    reason = render.failure(task)
    for text in render.file_lines(task):
        out.line(text)
    if reason:
        out.note(f"task {task.get('TaskID')} {task.get('Status')} with an error: {reason}")
        return EXIT_TASK_FAILED
    if task.get("Status") == states.Status.CANCELED:
        out.note(f"task {task.get('TaskID')} was canceled before it started: no file")
    return EXIT_OK


def fetch(args: argparse.Namespace, client: Client, out: Output) -> int:
    task = client.task(args.task_id)
    files = render.videos(task)
    if not files:
        reason = render.failure(task) or f"the task is {task.get('Status')}"
        out.note(f"no files to fetch for {args.task_id}: {reason}")
        return EXIT_TASK_FAILED if render.failure(task) else EXIT_REFUSED
    target = Path(args.directory)
    saved: list[dict[str, Any]] = []
    for video in files:
        url = urljoin(client.config.url + "/", str(video["FileURL"]))
        for part_url in [url, *playlist_parts(client, url)]:
            path = target / Path(urlsplit(part_url).path).name
            count = client.download(part_url, path)
            saved.append({"URL": part_url, "Path": str(path), "Bytes": count})
            out.line(f"{path}  ({render.size(count)})")
    out.raw({"TaskID": args.task_id, "Files": saved})
    return EXIT_OK


def playlist_parts(client: Client, url: str) -> list[str]:
    """An HLS playlist's segment URLs (its key URI stays with its owner); [] otherwise."""
    if not urlsplit(url).path.endswith(".m3u8"):
        return []
    lines = [line.strip() for line in client.text(url).splitlines()]
    return [urljoin(url, line) for line in lines if line and not line.startswith("#")]


# ---- lists ------------------------------------------------------------------------


def ls(args: argparse.Namespace, client: Client, out: Output) -> int:
    tasks = client.tasks(args.service, args.status, args.limit)
    out.raw({"Tasks": tasks})
    if not tasks:
        out.note("no tasks")
        return EXIT_OK
    for text in render.table(tasks):
        out.line(text)
    return EXIT_OK


def refused(error: ApiError, out: Output) -> int:
    """The farm's error: its body with --json, `CODE: message` otherwise."""
    if out.as_json:
        print(json.dumps(error.body, indent=2, ensure_ascii=False), file=out.out, flush=True)
    rid = f" (RequestID {error.request_id})" if error.request_id else ""
    out.note(f"error: {error.code}: {error.message}{rid}")
    return EXIT_REFUSED
