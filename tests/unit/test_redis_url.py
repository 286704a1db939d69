"""CAPSTAN_REDIS_URL: one Redis or a Sentinel group; what each part of the farm gets from it."""

import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from config import redis_url
from config.settings import Settings, SettingsError, get_settings, reset_settings
from deploy.local import stack

KEY = Fernet.generate_key().decode()  # Redis off this machine: the farm needs its key
SENTINELS = "sentinel://:m%40ster-pw@10.0.0.1:26379;sentinel://10.0.0.2;sentinel://10.0.0.3:26380"


def test_a_sentinel_list_names_every_sentinel_and_the_masters_password():
    target = redis_url.parse(SENTINELS)

    assert target.is_sentinel
    assert target.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26379), ("10.0.0.3", 26380))
    assert target.password == "m@ster-pw"
    assert target.hosts == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert "m@ster-pw" not in repr(target) and "m%40ster-pw" not in repr(target)


@pytest.mark.parametrize(
    "url", ["redis://:pw@10.0.0.5:6379", "rediss://redis.example:6380", "unix:///run/r.sock"]
)
def test_one_redis_is_taken_as_it_is(url):
    target = redis_url.parse(url)

    assert not target.is_sentinel and target.url == url and target.password is None


@pytest.mark.parametrize(
    "url",
    [
        "",
        "http://10.0.0.1:6379",
        "sentinel://a:26379;redis://b:6379",  # only sentinels are listed
        "sentinel://a:26379/0",  # the farm picks its dbs
        "sentinel://:pw@/",
    ],
)
def test_a_wrong_url_is_refused(url):
    with pytest.raises(ValueError):
        redis_url.parse(url)


def test_one_redis_whose_password_holds_a_semicolon_keeps_it():
    url = "redis://:pa;ss@10.0.0.5:6379"

    assert redis_url.parse(url).url == url
    assert redis_url.with_db(url, 2) == "redis://:pa;ss@10.0.0.5:6379/2"


def test_each_db_is_appended_to_every_sentinel_and_taken_off_again():
    with_db = redis_url.with_db(SENTINELS, 2)

    assert with_db.split(";") == [
        "sentinel://:m%40ster-pw@10.0.0.1:26379/2",
        "sentinel://10.0.0.2/2",
        "sentinel://10.0.0.3:26380/2",
    ]
    assert redis_url.base(with_db) == SENTINELS
    assert redis_url.with_db("redis://h:6379/", 1) == "redis://h:6379/1"
    assert redis_url.base("unix:///run/r.sock") == "unix:///run/r.sock"


def test_sentinel_transport_options_name_the_master_and_the_sentinels_password():
    options = redis_url.transport_options(redis_url.parse(SENTINELS), "capstan", "s-pw")

    assert options["master_name"] == "capstan"
    assert options["sentinel_kwargs"]["password"] == "s-pw"
    assert options["socket_connect_timeout"] <= 2  # a dead master is left within seconds
    assert options["ack_emulation"] is False  # an ack writes nothing: none fails mid-failover
    json.dumps(options)  # Celery's conf travels as JSON (Flower's Config tab, inspect conf)
    plain = redis_url.transport_options(redis_url.parse("redis://h:6379"), "capstan", "s-pw")
    assert "master_name" not in plain and "sentinel_kwargs" not in plain
    assert "ack_emulation" not in plain


def test_settings_give_every_part_of_the_farm_its_db_on_the_sentinels():
    settings = Settings(redis_url=SENTINELS, redis_master_name="capstan", secret_key=KEY)

    assert settings.broker_url == redis_url.with_db(SENTINELS, 0)
    assert settings.result_url == redis_url.with_db(SENTINELS, 1)
    assert settings.store_url == redis_url.with_db(SENTINELS, 2)
    assert settings.redis_host == "10.0.0.1"


def test_a_start_waits_for_one_replica_with_sentinel_and_none_with_one_redis():
    assert Settings(redis_url=SENTINELS, secret_key=KEY).start_replicas == 1
    assert Settings(redis_url="redis://127.0.0.1:6379").start_replicas == 0
    assert Settings(redis_url=SENTINELS, redis_min_replicas=0, secret_key=KEY).start_replicas == 0
    assert Settings(redis_url="redis://127.0.0.1:6379", redis_min_replicas=2).start_replicas == 2


def test_sentinels_on_loopback_keep_a_one_machine_farm_on_loopback():
    local = "sentinel://127.0.0.1:26379;sentinel://localhost:26380"

    assert Settings(redis_url=local).on_loopback
    with pytest.raises(ValidationError, match="CAPSTAN_SECRET_KEY"):
        Settings(redis_url="sentinel://127.0.0.1:26379;sentinel://10.0.0.2:26379")


def test_a_wrong_url_stops_the_farm_without_printing_it(monkeypatch):
    monkeypatch.setenv("CAPSTAN_REDIS_URL", "sentinel://:hunter2@a:1;redis://:hunter2@b:2")
    reset_settings()
    try:
        with pytest.raises(SettingsError) as error:
            get_settings()
    finally:
        monkeypatch.undo()
        reset_settings()

    assert "CAPSTAN_REDIS_URL" in str(error.value) and "hunter2" not in str(error.value)


def test_sentinel_conf_monitors_the_master_and_keeps_the_passwords_in_the_file():
    text = stack.sentinel_conf(
        26400, ("127.0.0.1", 6400), Path("/d"), master_name="capstan", down_after_ms=1000,
        master_password="m-pw", password="s-pw",
    )  # fmt: skip
    lines = text.splitlines()

    assert "port 26400" in lines and "dir /d" in lines
    assert "sentinel monitor capstan 127.0.0.1 6400 2" in lines
    assert "sentinel down-after-milliseconds capstan 1000" in lines
    # auth-pass names the master: it must come after `sentinel monitor`
    assert lines.index("sentinel auth-pass capstan m-pw") > lines.index(
        "sentinel monitor capstan 127.0.0.1 6400 2"
    )
    assert "requirepass s-pw" in lines


def test_a_replica_follows_its_master_with_the_groups_password():
    command = stack.redis_command(6401, Path("/d"), replica_of=("127.0.0.1", 6400), password="pw")

    argv = command.argv
    assert argv[argv.index("--replicaof") + 1 :][:2] == ["127.0.0.1", "6400"]
    assert argv[argv.index("--requirepass") + 1] == "pw" == argv[argv.index("--masterauth") + 1]
    assert command.ready.kind == "tcp"  # a PING without the password answers -NOAUTH
    assert stack.sentinel_command(Path("/d/s.conf"), 26400).argv == ["redis-sentinel", "/d/s.conf"]
