"""The argument parser of `capstan`. Options common to every command (--url, --key,
--secret, --json) are accepted before or after the command name."""

from __future__ import annotations

import argparse

from cli import commands
from cli.config import DEFAULT_URL, ENV_KEY, ENV_SECRET, ENV_URL
from workers.common.domain.states import Action, Status

STATUSES = tuple(status.value for status in Status)
# The services the CLI can start: one request builder each (the CLI talks HTTP only, so it
# does not import the farm's registry; tests/unit/test_services.py keeps them equal).
SERVICES = tuple(commands.BUILDERS)
# pause, resume, refresh, stop: the actions on a running task.
CONTROLS = {a.value.lower(): a.value for a in Action if a not in (Action.START, Action.DESCRIBE)}
DEMO_APP = 1400000000
MUXERS = ("mp4", "hls")  # the panorama's Video.Muxer formats

EPILOG = f"""\
configuration: --url, else ${ENV_URL}, else {DEFAULT_URL}; with a key configured
(--key/--secret or ${ENV_KEY}/${ENV_SECRET}) every request is signed.

exit codes: 0 done; 1 the farm refused (ErrorCode printed); 2 bad command line;
3 dispatcher unreachable; 4 the task ended with an error; 130 interrupted."""


def common(suppress: bool) -> argparse.ArgumentParser:
    """The shared options; on sub-commands they default to nothing, so either place works."""
    default = argparse.SUPPRESS if suppress else None
    parser = argparse.ArgumentParser(add_help=False, argument_default=default)
    parser.add_argument("--url", help=f"the dispatcher (${ENV_URL}, default {DEFAULT_URL})")
    parser.add_argument("--key", help=f"application key for signing (${ENV_KEY})")
    parser.add_argument("--secret", help=f"its secret (${ENV_SECRET})")
    parser.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="print the API's raw JSON answers (for scripts)",
    )
    return parser


def size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 1280x720")
    return int(width), int(height)


def muxers(text: str) -> list[str]:
    """--muxer mp4,hls: the panorama's Video.Muxer formats, in order, each once."""
    names = [name.strip().lower() for name in text.split(",")]
    if any(name not in MUXERS for name in names) or len(set(names)) < len(names):
        raise argparse.ArgumentTypeError(f"{text!r} is not mp4, hls or both, e.g. mp4,hls")
    return names


def build() -> argparse.ArgumentParser:
    shared = common(suppress=True)
    parser = argparse.ArgumentParser(
        prog="capstan",
        description="Start, watch and fetch Capstan recordings.",
        parents=[common(suppress=False)],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for service in SERVICES:
        group = sub.add_parser(service, help=f"{service} tasks", parents=[shared])
        actions = group.add_subparsers(dest="verb", required=True, metavar="start")
        starter = actions.add_parser("start", help=f"start a {service} task", parents=[shared])
        starter.set_defaults(handler=commands.start, service=service)
        _start_options(service, starter)
    for verb, action in CONTROLS.items():
        cmd = sub.add_parser(verb, help=f"{action} a task", parents=[shared])
        cmd.add_argument("task_id", metavar="TASKID")
        cmd.add_argument("--service", choices=SERVICES, help="skip looking the service up")
        cmd.set_defaults(handler=commands.control, action=action)
    cmd = sub.add_parser("describe", help="a task's state, times, files", parents=[shared])
    cmd.add_argument("task_id", metavar="TASKID")
    cmd.set_defaults(handler=commands.describe)
    cmd = sub.add_parser("watch", help="follow a task until it ends", parents=[shared])
    cmd.add_argument("task_id", metavar="TASKID")
    cmd.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    cmd.set_defaults(handler=commands.watch)
    cmd = sub.add_parser("fetch", help="download a task's files into DIR", parents=[shared])
    cmd.add_argument("task_id", metavar="TASKID")
    cmd.add_argument("directory", metavar="DIR")
    cmd.set_defaults(handler=commands.fetch)
    cmd = sub.add_parser("ls", help="recent tasks, newest first", parents=[shared])
    cmd.add_argument("--service", choices=SERVICES)
    cmd.add_argument("--status", choices=STATUSES)
    cmd.add_argument("--limit", type=int, default=20)
    cmd.set_defaults(handler=commands.ls)
    return parser


def _start_options(service: str, cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--wait", action="store_true", help="then watch it until it ends")
    cmd.add_argument("--interval", type=float, default=1.0, help="seconds between polls (--wait)")
    if service == "panorama":
        cmd.add_argument("record_url", metavar="URL", help="the page to record")
        cmd.add_argument("--size", type=size, help="WIDTHxHEIGHT (default 1280x720)")
        formats = cmd.add_mutually_exclusive_group()
        formats.add_argument("--hls", action="store_true", help="HLS instead of MP4")
        formats.add_argument(
            "--muxer", type=muxers, metavar="LIST", help="mp4, hls or both (mp4,hls): one file each"
        )
        cmd.add_argument("--max-duration", type=int, metavar="SECONDS")
        cmd.add_argument("--manual-start", action="store_true", help="wait for startRecord()")
        cmd.add_argument("--callback", metavar="URL", help="CallbackURL")
        cmd.add_argument("--encrypt-key", metavar="HEX32", help="AES-128 key for HLS")
        cmd.add_argument("--auth-url", metavar="URL", help="where players fetch the key")
        cmd.add_argument("--name", help="the file's name (Output.Cos.TargetName)")
        _snapshots_option(cmd)
        cmd.add_argument(
            "--live",
            action="append",
            metavar="URL",
            help="also stream it live to this rtmp(s):// or srt:// URL (repeatable)",
        )
        cmd.add_argument(
            "--pause-frame",
            choices=("black", "slate"),
            help="what live outputs show while paused (default black)",
        )
        return
    if service == "pusher":
        cmd.add_argument("source", metavar="SRC", help="file URL, s3://, rtmp:// or media path")
        cmd.add_argument("--seek", type=float, default=0.0, help="start this many seconds in")
        cmd.add_argument("--loop", type=int, default=0, help="-1 forever, n more times")
    cmd.add_argument("--app", type=int, default=DEMO_APP, help=f"SdkAppId (default {DEMO_APP})")
    cmd.add_argument("--room", required=True, help="RoomId (a number) or StrRoomId")
    cmd.add_argument("--user", required=True, help="UserId")
    cmd.add_argument("--sig", default="local", help="UserSig (any value on the local farm)")
    if service == "recorder":
        cmd.add_argument("--mode", choices=("00", "01", "02"), default="00")
        cmd.add_argument("--max-duration", type=int, metavar="SECONDS")
        cmd.add_argument("--callback", metavar="URL", help="Callback URL")
        _snapshots_option(cmd)


def _snapshots_option(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument(
        "--snapshots",
        type=int,
        metavar="SECONDS",
        help="a JPEG snapshot every SECONDS of the recording, and one of its end",
    )
