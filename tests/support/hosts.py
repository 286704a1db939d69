"""Machines for a multi-host test: Linux network namespaces on a bridge the test makes.

    Network(["s", "a", "b"]) ─▶ bridge <tag>br (10.x.y.1, this process) + per host a
    namespace with loopback up and eth0 = 10.x.y.2, .3, ... (a veth pair on the bridge)

A host runs its processes through ``ip netns exec``: its own network, but this machine's
file system (each host gets its own data directory and shares none). ``Host.crash()``
kills every process in its namespace at once, as a lost machine. ``Network.close()``
stops everything and removes the namespaces and the bridge, also after a failure.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local.process import Child, resolve
from deploy.local.stack import Command
from tests.support.tools import REPO, missing, require


def ip(*args: str, check: bool = True) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


@dataclass
class Host:
    name: str
    netns: str
    address: str
    data_dir: Path
    children: list[Child] = field(default_factory=list)

    def start(
        self, command: Command, log: Path, env: Mapping[str, str], wait: bool = True
    ) -> Child:
        """``command`` inside this host's network; ready (unless wait=False) when it returns."""
        argv = ["ip", "netns", "exec", self.netns, *resolve(command.argv, env)]
        inside = Command(command.name, argv, command.ready, command.env)
        child = Child(inside, log, env, cwd=REPO).start()
        self.children.append(child)
        if wait:
            child.wait_ready(90)
        return child

    def pids(self) -> list[int]:
        return [int(pid) for pid in ip("netns", "pids", self.netns, check=False).split()]

    def crash(self) -> None:
        """SIGKILL every process of this host (Chromium, ffmpeg, Xvfb, ... with the rest)."""
        deadline = time.monotonic() + 10
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        for child in self.children:
            child.kill()  # reaps the leaders this process started
            child.close()

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop(grace=10)
        self.crash()  # whatever a stopped leader left behind

    def tails(self, count: int = 25) -> str:
        parts = []
        for child in self.children:
            lines = "\n".join(f"    {line}" for line in child.tail(count))
            parts.append(f"--- host {self.name}: {child.name} ({child.log}):\n{lines}")
        return "\n".join(parts)


class Network:
    """A bridge with this process on .1 and one namespace per host name on .2, .3, ..."""

    def __init__(self, names: list[str], root: Path) -> None:
        require("ip")
        tag = f"cp{os.getpid() % 100000}"
        self.bridge = f"{tag}br"
        self.prefix = _free_prefix()
        self.address = f"{self.prefix}.1"
        self.hosts: dict[str, Host] = {}
        self._veths: list[str] = []
        try:
            ip("link", "add", self.bridge, "type", "bridge")
        except RuntimeError as exc:
            missing(f"cannot make a network bridge (root with CAP_NET_ADMIN needed): {exc}")
        try:
            ip("addr", "add", f"{self.address}/24", "dev", self.bridge)
            ip("link", "set", self.bridge, "up")
            for number, name in enumerate(names, start=2):
                self._add_host(f"{tag}{name}", name, f"{self.prefix}.{number}", root / name)
        except BaseException:
            self.close()
            raise

    @property
    def subnet(self) -> str:
        return f"{self.prefix}.0/24"

    def _add_host(self, tag: str, name: str, address: str, data_dir: Path) -> None:
        netns = f"capstan-{tag}"
        ip("netns", "add", netns)
        self.hosts[name] = Host(name, netns, address, data_dir)
        ip("link", "add", tag, "type", "veth", "peer", "name", "eth0", "netns", netns)
        self._veths.append(tag)
        ip("link", "set", tag, "master", self.bridge, "up")
        ip("-n", netns, "addr", "add", f"{address}/24", "dev", "eth0")
        ip("-n", netns, "link", "set", "eth0", "up")
        ip("-n", netns, "link", "set", "lo", "up")
        data_dir.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        for host in self.hosts.values():
            with contextlib.suppress(Exception):
                host.stop()
        for host in self.hosts.values():
            ip("netns", "del", host.netns, check=False)  # takes its end of the veth along
        for veth in self._veths:
            ip("link", "del", veth, check=False)
        ip("link", "del", self.bridge, check=False)

    def report(self) -> str:
        return "\n".join(host.tails() for host in self.hosts.values())


def _free_prefix() -> str:
    """A 10.231.N /24 that no interface or route of this machine uses."""
    used = ip("-4", "route", "show", "table", "all") + ip("-4", "-o", "addr")
    start = os.getpid() % 200
    for offset in range(200):
        prefix = f"10.231.{(start + offset) % 200 + 20}"
        if f"{prefix}." not in used:
            return prefix
    raise RuntimeError("no free 10.231.N.0/24 for the test network")
