"""deploy.local.janus's WebSocket option: off by default, on a loopback port when asked
(for a WHIP server in front of Janus)."""

from __future__ import annotations

from deploy.local import janus as local_janus


def test_websockets_stay_off_by_default(tmp_path):
    files = local_janus.janus_configs(tmp_path, 18088, "farm-key")
    assert "janus.transport.websockets.jcfg" not in files
    assert "libjanus_websockets.so" in files["janus.jcfg"]


def test_ws_port_turns_the_websocket_api_on_loopback_only(tmp_path):
    files = local_janus.janus_configs(tmp_path, 18088, "farm-key", ws_port=18188)
    ws = files["janus.transport.websockets.jcfg"]
    assert "ws = true" in ws and "ws_port = 18188" in ws and 'ws_ip = "127.0.0.1"' in ws
    assert "wss = false" in ws and "admin_ws = false" in ws
    core = files["janus.jcfg"]
    assert "libjanus_websockets.so" not in core
    for off in ("mqtt", "nanomsg", "pfunix", "rabbitmq"):
        assert f"libjanus_{off}.so" in core
    assert (
        files["janus.transport.http.jcfg"]
        == local_janus.janus_configs(tmp_path, 18088, "farm-key")["janus.transport.http.jcfg"]
    )
    assert local_janus.janus_ws_url(18188) == "ws://127.0.0.1:18188"
