"""A real WHIP server for the tests: meetecho's simple-whip-server in front of a real Janus.

Debian packages it (`simple-whip-server`), but its libnode108 conflicts with the machine's
nodejs, so `make whip-server` (run by .ci/run) takes its JS from the package and its node
modules from npm into var/whip-server; WhipServer runs that with the machine's node, a
config.js of its own (Janus's WebSocket API, a free loopback port, rest '/whip') in its own
directory. Janus must speak WebSocket for it: JanusWithWebsockets.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import requests

from deploy.local import janus as local_janus
from deploy.local.stack import HOST, Command, Ready
from tests.support.janus import ADMIN_KEY, JanusServer
from tests.support.servers import Server
from tests.support.tools import REPO, free_port, in_ci, missing, require

CACHE = REPO / "var" / "whip-server"  # what `make whip-server` prepares
SOURCES = ("server.js", "whip-janus.js")
# simple-whip-server listens on every interface (its config has no address): a preload
# binds every numeric-port listen() of the process to loopback.
LOOPBACK_JS = f"""\
const net = require('net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function(port, ...rest) {{
    if (typeof port === 'number' && typeof rest[0] !== 'string')
        return listen.call(this, port, '{HOST}', ...rest);
    return listen.call(this, port, ...rest);
}};
"""


class JanusWithWebsockets(JanusServer):
    """JanusServer with its WebSocket API on too (a loopback port): .ws_url."""

    def __init__(self, directory: Path, log_dir: Path) -> None:
        super().__init__(directory, log_dir)
        self.ws_port = free_port()
        files = local_janus.janus_configs(directory, self.port, ADMIN_KEY, ws_port=self.ws_port)
        for name, text in files.items():
            (directory / name).write_text(text)

    @property
    def ws_url(self) -> str:
        return local_janus.janus_ws_url(self.ws_port)


def prepared() -> Path:
    """var/whip-server, prepared by `make whip-server` (here, on a laptop, when missing)."""
    if not (CACHE / "src" / "server.js").exists() or not (CACHE / "node_modules").is_dir():
        if in_ci():
            missing("simple-whip-server is not prepared: .ci/run runs `make whip-server`")
        require("npm")
        done = subprocess.run(["make", "-s", "whip-server"], cwd=REPO, capture_output=True,
                              text=True, timeout=600, check=False)  # fmt: skip
        if done.returncode != 0:
            missing(f"make whip-server failed: {done.stdout[-500:]}{done.stderr[-500:]}")
    return CACHE


class WhipServer(Server):
    """simple-whip-server on a free loopback port in front of ``janus``: .url (…/whip),
    .create_endpoint(id, room, token=, pin=) -> the endpoint's URL, .endpoints()."""

    def __init__(self, directory: Path, log_dir: Path, janus: JanusWithWebsockets) -> None:
        node = require("node")
        cache = prepared()
        self.port = free_port()
        src = directory / "src"
        src.mkdir(parents=True, exist_ok=True)
        for name in SOURCES:
            shutil.copy(cache / "src" / name, src / name)
        (src / "config.js").write_text(_config(janus.ws_url, self.port))
        (directory / "loopback.js").write_text(LOOPBACK_JS)
        modules = directory / "node_modules"
        if not modules.exists():
            modules.symlink_to(cache / "node_modules", target_is_directory=True)
        argv = [node, "--require", str(directory / "loopback.js"), str(src / "server.js")]
        env = {"DEBUG": "whip:info,whip:warn,whip:error,janus:warn,janus:error",
               "NODE_ENV": "production"}  # fmt: skip
        ready = Ready("http", f"{self.url}/healthcheck")
        super().__init__(Command("simple-whip-server", argv, ready, env), log_dir / "whip.log")

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/whip"

    def endpoint_url(self, endpoint_id: str) -> str:
        return f"{self.url}/endpoint/{endpoint_id}"

    def create_endpoint(
        self, endpoint_id: str, room: int, token: str = "", pin: str = "", label: str = ""
    ) -> str:
        """An endpoint publishing into ``room`` as ``label`` (Janus's display name; the id by
        default), asking ``token`` of its clients and opening the room with ``pin``."""
        body: dict[str, object] = {"id": endpoint_id, "room": room, "label": label or endpoint_id}
        if token:
            body["token"] = token
        if pin:
            body["pin"] = pin
        requests.post(f"{self.url}/create", json=body, timeout=10).raise_for_status()
        return self.endpoint_url(endpoint_id)

    def endpoints(self) -> list[dict[str, object]]:
        answer = requests.get(f"{self.url}/endpoints", timeout=10)
        answer.raise_for_status()
        found: list[dict[str, object]] = answer.json()
        return found


def _config(janus_ws_url: str, port: int) -> str:
    return f"""\
module.exports = {{
    janus: {{ address: '{janus_ws_url}' }},
    port: {port},
    rest: '/whip',
    allowTrickle: true,
    strictETags: false,
    iceServers: []
}};
"""
