"""The local WebRTC room server: Janus (Debian's `janus`, 1.1) with its VideoRoom only.

Pure functions, as deploy.local.stack: the config files (written by the caller into a
directory of their own) and the command line. Janus's API listens on loopback only: the
HTTP API (no WebSocket, MQTT... transports, no other plugin). Its media does not: libnice
gathers no ICE candidate on `lo` (an `ice_enforce_list` of lo or 127.0.0.1 changed nothing,
tried), so WebRTC peers reach it on the machine's own addresses, in RTP_PORTS.
With ``ws_port`` the WebSocket transport is on too, on loopback only: what a WHIP server in
front of Janus (meetecho's simple-whip-server) speaks. Off by default.
The VideoRoom asks an admin key of `create` and `rtp_forward`, the farm's
CAPSTAN_JANUS_ADMIN_KEY, so only the farm creates rooms and forwards a user's media.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from deploy.local.stack import HOST, Command, Ready

LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
PLUGINS_OFF = ("audiobridge", "duktape", "echotest", "lua", "nosip", "recordplay", "sip",
               "streaming", "textroom", "videocall", "voicemail")  # fmt: skip
TRANSPORTS_OFF = ("mqtt", "nanomsg", "pfunix", "rabbitmq", "websockets")
RTP_PORTS = "20000-40000"  # the media ports Janus picks its ICE candidates from


def janus_url(port: int, host: str = HOST) -> str:
    return f"http://{host}:{port}/janus"


def janus_address(url: str) -> tuple[str, int]:
    """The host and port of the farm's CAPSTAN_JANUS_URL (the local Janus listens there)."""
    parts = urlsplit(url)
    return parts.hostname or HOST, parts.port or 8088


def janus_configs(
    config_dir: Path, port: int, admin_key: str, host: str = HOST, ws_port: int | None = None
) -> dict[str, str]:
    """File name -> text of the config files Janus reads from ``config_dir``: three, and
    the WebSocket transport's when ``ws_port`` is given."""
    transports_off = TRANSPORTS_OFF if ws_port is None else _without(TRANSPORTS_OFF, "websockets")
    files = {
        "janus.jcfg": _core(config_dir, transports_off),
        "janus.transport.http.jcfg": _http(port, host),
        "janus.plugin.videoroom.jcfg": _videoroom(admin_key),
    }
    if ws_port is not None:
        files["janus.transport.websockets.jcfg"] = _websockets(ws_port, host)
    return files


def janus_ws_url(ws_port: int, host: str = HOST) -> str:
    """The WebSocket API of a Janus configured with ``ws_port`` (protocol janus-protocol)."""
    return f"ws://{host}:{ws_port}"


def janus_command(config_dir: Path, port: int, host: str = HOST) -> Command:
    """janus in the foreground, logging to stdout, with the configs of janus_configs()."""
    argv = ["janus", "--configs-folder", str(config_dir),
            "--config", str(config_dir / "janus.jcfg"), "--disable-colors"]  # fmt: skip
    return Command("janus", argv, Ready("http", f"{janus_url(port, host)}/info"))


def _off(names: tuple[str, ...]) -> str:
    return ",".join(f"libjanus_{name}.so" for name in names)


def _without(names: tuple[str, ...], name: str) -> tuple[str, ...]:
    return tuple(n for n in names if n != name)


def _core(config_dir: Path, transports_off: tuple[str, ...]) -> str:
    return f"""\
general: {{
    configs_folder = "{config_dir}"
    plugins_folder = "{LIB}/plugins"
    transports_folder = "{LIB}/transports"
    events_folder = "{config_dir}/no-events"
    loggers_folder = "{config_dir}/no-loggers"
    debug_level = 4
    session_timeout = 60
}}
media: {{
    rtp_port_range = "{RTP_PORTS}"
}}
nat: {{
    ignore_mdns = true
}}
plugins: {{
    disable = "{_off(PLUGINS_OFF)}"
}}
transports: {{
    disable = "{_off(transports_off)}"
}}
events: {{
    broadcast = false
}}
"""


def _http(port: int, host: str) -> str:
    return f"""\
general: {{
    json = "plain"
    base_path = "/janus"
    http = true
    port = {port}
    ip = "{host}"
    https = false
}}
admin: {{
    admin_http = false
}}
"""


def _websockets(ws_port: int, host: str) -> str:
    return f"""\
general: {{
    json = "plain"
    ws = true
    ws_port = {ws_port}
    ws_ip = "{host}"
    wss = false
}}
admin: {{
    admin_ws = false
    admin_wss = false
}}
"""


def _videoroom(admin_key: str) -> str:
    """Without an admin key, anyone reaching the API may create rooms and forward media."""
    if not admin_key:
        return "general: {\n}\n"
    return f"""\
general: {{
    admin_key = "{admin_key}"
    lock_rtp_forward = true
}}
"""
