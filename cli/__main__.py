"""`capstan` / `python -m cli`: parse, configure, run one command, map errors to exit codes."""

from __future__ import annotations

import os
import sys

from cli import commands
from cli.client import ApiError, Client, Unreachable
from cli.config import ConfigError, resolve
from cli.parser import build


def main(argv: list[str] | None = None) -> int:
    args = build().parse_args(argv)
    out = commands.Output(as_json=args.json)
    try:
        config = resolve(os.environ, args.url, args.key, args.secret)
    except ConfigError as exc:
        out.note(f"error: {exc}")
        return commands.EXIT_USAGE
    try:
        code: int = args.handler(args, Client(config), out)
    except ApiError as exc:
        return commands.refused(exc, out)
    except Unreachable as exc:
        out.note(f"error: {exc}")
        return commands.EXIT_UNREACHABLE
    except KeyboardInterrupt:
        return commands.EXIT_INTERRUPTED
    return code


if __name__ == "__main__":
    sys.exit(main())
