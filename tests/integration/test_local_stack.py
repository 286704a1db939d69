"""The fixtures start real servers, and the supervisor starts the whole local farm."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from tests.support.tools import REPO, free_port, require, wait_until

pytestmark = pytest.mark.integration


def test_redis_keeps_its_data_across_a_restart(redis_server):
    redis_server.client(2).set("capstan:test:kept", "yes")

    redis_server.restart()

    assert redis_server.client(2).get("capstan:test:kept") == "yes"
    redis_server.client(2).delete("capstan:test:kept")


def test_capstan_env_points_settings_at_the_test_servers(capstan_env, redis_server, tmp_path):
    from workers.common.domain.redis_client import store_redis

    assert capstan_env.redis_url == redis_server.url
    assert capstan_env.data_dir == tmp_path / "data"
    assert capstan_env.url_allowlist == ["127.0.0.0/8"]
    store_redis().set("capstan:test:via-settings", "1")
    assert redis_server.client(2).get("capstan:test:via-settings") == "1"


def test_moto_stores_and_returns_an_object(s3_server):
    bucket = s3_server.make_bucket("capstan-fixture-test")
    s3 = s3_server.client()

    s3.put_object(Bucket=bucket, Key="a/b.txt", Body=b"hello")

    assert s3.get_object(Bucket=bucket, Key="a/b.txt")["Body"].read() == b"hello"


def test_a_published_stream_is_seen_with_h264_and_aac(rtmp_server, lavfi_publisher):
    assert not rtmp_server.is_publishing("1400000000_1_nobody", timeout=3)

    publisher = lavfi_publisher(rtmp_server.url("1400000000_1_alice"), seconds=30)
    streams = rtmp_server.wait_published("1400000000_1_alice")

    assert {(s["codec_type"], s["codec_name"]) for s in streams} == {
        ("video", "h264"),
        ("audio", "aac"),
    }
    publisher.stop()
    wait_until(lambda: not rtmp_server.is_publishing("1400000000_1_alice", 3), 15)


def test_capstan_env_rooms_use_the_test_rtmp_server(rtmp_server, capstan_env):
    assert capstan_env.pull_template == rtmp_server.template
    assert capstan_env.push_template == rtmp_server.template


def test_farm_process_starts_a_dispatcher_and_a_worker(farm_process):
    dispatcher = farm_process("dispatcher")
    worker = farm_process("recorder", concurrency=2)

    answer = requests.get(f"{dispatcher.url}/healthz", timeout=5)

    assert answer.status_code == 200
    assert worker.alive()
    worker.stop()
    assert not worker.alive()


def _supervisor_env(tmp_path):
    ports = {name: free_port() for name in ("redis", "rtmp", "http", "flower")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPSTAN_")}
    env.update(
        CAPSTAN_REDIS_URL=f"redis://127.0.0.1:{ports['redis']}",
        CAPSTAN_RTMP_PORT=str(ports["rtmp"]),
        CAPSTAN_PORT=str(ports["http"]),
        CAPSTAN_FLOWER_PORT=str(ports["flower"]),
        CAPSTAN_DATA_DIR=str(tmp_path / "data"),
    )
    return env, ports


def test_the_supervisor_starts_the_farm_and_stops_it_on_sigterm(tmp_path):
    for tool in ("redis-server", "nginx-rtmp", "ffmpeg"):
        require(tool)
    env, ports = _supervisor_env(tmp_path)
    var = tmp_path / "var"
    argv = [sys.executable, "-m", "deploy.local.supervisor", "--var", str(var), "--grace", "10"]
    out = tmp_path / "supervisor.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT)
        try:
            wait_until(
                lambda: "Capstan is running" in out.read_text() or proc.poll() is not None,
                timeout=150,
                what="the farm to start",
            )
            text = out.read_text()
            assert proc.poll() is None, text + _logs(var)
            assert f"http://127.0.0.1:{ports['http']}" in text
            assert f"rtmp://127.0.0.1:{ports['rtmp']}/live/{{SdkAppId}}_{{Room}}_{{UserId}}" in text
            assert requests.get(f"http://127.0.0.1:{ports['http']}/healthz", timeout=5).ok
            flower = requests.get(f"http://127.0.0.1:{ports['flower']}/healthcheck", timeout=5)
            assert flower.status_code == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=120)
    text = out.read_text()
    assert code == 0, text
    assert text.index("flower stopped") < text.index("redis stopped")
    assert sorted(p.name for p in (var / "log").iterdir()) == [
        "dispatcher.log", "flower.log", "nginx-rtmp.log", "panorama.log",
        "pusher.log", "reconciler.log", "recorder.log", "redis.log",
    ]  # fmt: skip
    time.sleep(0.5)
    assert not _listening(ports["http"]) and not _listening(ports["redis"])


def test_the_supervisor_refuses_a_port_already_in_use(tmp_path):
    require("redis-server")
    env, _ = _supervisor_env(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env["CAPSTAN_REDIS_URL"] = f"redis://127.0.0.1:{taken.getsockname()[1]}"
        argv = [sys.executable, "-m", "deploy.local.supervisor", "--var", str(tmp_path / "var")]

        done = subprocess.run(
            argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False
        )

    assert done.returncode == 1
    assert "redis cannot start" in done.stdout
    assert "already in use" in done.stdout


def _listening(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _logs(var):
    parts = []
    for log in sorted((var / "log").glob("*.log")):
        parts.append(f"\n--- {log.name}\n" + "\n".join(log.read_text().splitlines()[-15:]))
    return "".join(parts)
