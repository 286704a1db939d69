"""The worker probe: Redis must answer and the heartbeat must be fresh (no servers needed)."""

import os
import socket
import time

import pytest
import redis

from config.settings import Settings, reset_settings
from workers.common.runtime import probe


@pytest.fixture
def settings_env(tmp_path, monkeypatch):
    monkeypatch.setenv("CAPSTAN_DATA_DIR", str(tmp_path))
    reset_settings()
    yield tmp_path
    reset_settings()


@pytest.fixture
def redis_answers(monkeypatch):
    monkeypatch.setattr(redis.Redis, "ping", lambda self: True)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_heartbeat_path_is_per_pool_under_data_dir(settings_env):
    path = probe.heartbeat_path("panorama")
    assert path == settings_env / "run" / "worker-panorama.heartbeat"


def test_touch_heartbeat_creates_a_fresh_file(tmp_path):
    path = tmp_path / "run" / "worker-recorder.heartbeat"
    probe.touch_heartbeat(path)
    assert probe.heartbeat_problem(path, max_age_s=5) is None
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left


def test_missing_heartbeat_is_a_problem(tmp_path):
    assert "no heartbeat file" in probe.heartbeat_problem(tmp_path / "nope", max_age_s=60)


def test_stale_heartbeat_is_a_problem(tmp_path):
    path = tmp_path / "hb"
    probe.touch_heartbeat(path)
    old = time.time() - 120
    os.utime(path, (old, old))
    assert "not consuming" in probe.heartbeat_problem(path, max_age_s=60)


def test_unreachable_redis_is_a_problem():
    settings = Settings(redis_url=f"redis://127.0.0.1:{closed_port()}")
    problem = probe.redis_problem(settings, timeout_s=0.5)
    assert problem and problem.startswith("redis unreachable")


def test_a_sentinel_group_nobody_answers_for_is_a_problem():
    sentinels = f"sentinel://127.0.0.1:{closed_port()};sentinel://127.0.0.1:{closed_port()}"
    problem = probe.redis_problem(Settings(redis_url=sentinels), timeout_s=0.5)
    assert problem and problem.startswith("redis unreachable")


def test_probe_passes_when_redis_answers_and_worker_beats(settings_env, redis_answers):
    probe.touch_heartbeat(probe.heartbeat_path("recorder"))
    assert probe.main(["--pool", "recorder"]) == 0


def test_probe_fails_without_heartbeat(settings_env, redis_answers, capsys):
    assert probe.main(["--pool", "pusher"]) == 1
    assert "probe pusher: no heartbeat file" in capsys.readouterr().err


def test_probe_fails_when_redis_is_down(settings_env, monkeypatch, capsys):
    monkeypatch.setenv("CAPSTAN_REDIS_URL", f"redis://127.0.0.1:{closed_port()}")
    reset_settings()
    probe.touch_heartbeat(probe.heartbeat_path("panorama"))
    assert probe.main(["--pool", "panorama", "--redis-timeout", "0.5"]) == 1
    assert "redis unreachable" in capsys.readouterr().err


def test_probe_only_knows_the_pools_and_the_reconciler():
    with pytest.raises(SystemExit):
        probe.main(["--pool", "nosuchpool"])
