"""The local stack's command lines (deploy.local.stack): pure builders, table-tested."""

from pathlib import Path

import pytest

from deploy.local import stack
from deploy.local.stack import Ports
from deploy.local.supervisor import child_env, plan, ports_from


def _pairs(argv: list[str]) -> dict[str, str]:
    return {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("-")}


def test_redis_runs_in_the_foreground_with_aof_and_noeviction():
    command = stack.redis_command(6390, Path("/d"))

    options = _pairs(command.argv)
    assert command.argv[0] == "redis-server"
    assert options["--port"] == "6390"
    assert options["--bind"] == "127.0.0.1"
    assert options["--dir"] == "/d"
    assert options["--appendonly"] == "yes"
    assert options["--maxmemory-policy"] == "noeviction"
    assert options["--daemonize"] == "no"
    assert command.ready.kind == "redis"


def test_nginx_conf_loads_the_rtmp_module_and_serves_live():
    conf = stack.nginx_conf(19350, Path("/run/x"))

    assert conf.startswith("load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;")
    assert "daemon off;" in conf
    assert "listen 127.0.0.1:19350;" in conf
    assert "application live {" in conf
    assert "live on;" in conf and "record off;" in conf
    assert "pid /run/x/nginx.pid;" in conf


def test_the_dispatcher_is_served_on_the_address_given_and_sized_by_settings_unless_told():
    sized_by_settings = stack.dispatcher_command(8081)
    two = stack.dispatcher_command(8081, host="10.0.0.2", workers=2)

    assert sized_by_settings.argv == [
        "python", "-m", "dispatcher.serve", "--host", "127.0.0.1", "--port", "8081"
    ]  # fmt: skip
    assert _pairs(two.argv)["--host"] == "10.0.0.2"
    assert _pairs(two.argv)["--workers"] == "2"
    assert sized_by_settings.ready.target == "http://127.0.0.1:8081/healthz"


@pytest.mark.parametrize(
    ("pool", "concurrency"), [("recorder", 40), ("pusher", 40), ("panorama", 2)]
)
def test_one_worker_per_pool(pool, concurrency):
    command = stack.worker_command(pool, concurrency, "redis://r:1/0", "box")

    options = _pairs(command.argv)
    assert command.argv[:4] == ["celery", "-A", "config.celery", "worker"]
    assert options["-Q"] == pool
    assert options["-n"] == f"{pool}@%h"
    assert options["--pool"] == "threads"
    assert options["-c"] == str(concurrency)
    assert {"-E", "--without-gossip", "--without-mingle"} <= set(command.argv)
    assert command.ready.target == f"{pool}@box|redis://r:1/0"


def test_reconciler_embeds_beat_in_a_single_thread_worker():
    command = stack.reconciler_command("redis://r:1/0", "box", Path("/run/beat"))

    options = _pairs(command.argv)
    assert options["-Q"] == "reconciler"
    assert options["-c"] == "1"
    assert "-B" in command.argv
    assert options["-s"] == "/run/beat"


@pytest.mark.parametrize(("auth", "expected"), [("", None), ("admin:pw", "--basic-auth=admin:pw")])
def test_flower_basic_auth_only_when_configured(auth, expected):
    argv = stack.flower_command(5556, basic_auth=auth).argv

    assert argv[:4] == ["celery", "-A", "config.celery", "flower"]
    assert "--address=127.0.0.1" in argv and "--port=5556" in argv
    assert [a for a in argv if a.startswith("--basic-auth")] == ([expected] if expected else [])


def test_farm_env_points_rooms_at_the_local_rtmp_port_and_allows_loopback():
    env = stack.farm_env(Ports(redis=7000, rtmp=7001, dispatcher=7002, flower=7003), Path("/v"))

    assert env["CAPSTAN_REDIS_URL"] == "redis://127.0.0.1:7000"
    assert (
        env["CAPSTAN_ROOM_PULL_TEMPLATE"] == "rtmp://127.0.0.1:7001/live/{SdkAppId}_{Room}_{UserId}"
    )
    assert env["CAPSTAN_ROOM_PUSH_TEMPLATE"] == env["CAPSTAN_ROOM_PULL_TEMPLATE"]
    assert env["CAPSTAN_URL_ALLOWLIST"] == '["127.0.0.0/8"]'
    assert env["CAPSTAN_PUBLIC_URL"] == "http://127.0.0.1:7002"


def test_the_users_own_settings_win_over_the_local_defaults():
    base = {"CAPSTAN_ROOM_BACKEND": "trtc", "CAPSTAN_URL_ALLOWLIST": "[]", "PATH": "/bin"}

    env = child_env(base, Ports(), Path("/v"))

    assert env["CAPSTAN_URL_ALLOWLIST"] == "[]"
    assert env["CAPSTAN_ROOM_BACKEND"] == "trtc"
    assert "CAPSTAN_ROOM_PULL_TEMPLATE" not in env
    assert env["PATH"].endswith(":/bin")


def test_the_supervisor_starts_the_farm_in_order():
    from config.settings import Settings

    settings = Settings(redis_url="redis://127.0.0.1:6400", rtmp_port=1940, port=8090)
    ports = ports_from(settings)

    stages = plan(settings, ports, stack.Layout(Path("/v")), "box")

    names = [[command.name for command in stage] for stage in stages]
    assert names == [
        ["redis"], ["nginx-rtmp"], ["dispatcher"],
        ["recorder", "pusher", "panorama"], ["reconciler"], ["flower"],
    ]  # fmt: skip
    assert (ports.redis, ports.rtmp, ports.dispatcher) == (6400, 1940, 8090)
