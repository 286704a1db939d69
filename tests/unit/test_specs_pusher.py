"""pusher Start (seed 003): lower-camel names, sources, the redisHost allowlist."""

import pytest

from config.settings import reset_settings
from workers.common.domain.errors import InvalidParam
from workers.common.domain.specs.base import split_secrets
from workers.common.domain.specs.fields import parse
from workers.common.domain.specs.pusher import PusherStart

# The seed's fields as a client of the hosted service sends them.
SEED_BODY = {
    "videoSrc": "https://example.com/lesson.mp4",
    "sdkAppId": "1400000000",
    "roomId": "1234",
    "userId": "teacher_1",
    "userSig": "eJw-sig",
    "clientRole": "anchor",
    "redis": False,
}


@pytest.fixture
def allowlist(monkeypatch):
    def set_to(networks: str) -> None:
        monkeypatch.setenv("CAPSTAN_REDIS_HOST_ALLOWLIST", networks)
        reset_settings()

    yield set_to
    monkeypatch.delenv("CAPSTAN_REDIS_HOST_ALLOWLIST", raising=False)
    reset_settings()


def message(data) -> str:
    with pytest.raises(InvalidParam) as caught:
        parse(PusherStart, data)
    return caught.value.message


def test_seed_body_and_defaults():
    spec = parse(
        PusherStart, {k: v for k, v in SEED_BODY.items() if k not in ("clientRole", "redis")}
    )
    assert spec.clientRole == "anchor"
    assert spec.redis is False
    assert spec.redisPort == 6379
    assert (spec.SeekSecond, spec.Loop, spec.MaxIdleTime) == (0.0, 0, 300)
    assert not spec.is_live


def test_ints_become_strings():
    spec = parse(PusherStart, {**SEED_BODY, "sdkAppId": 1400000000, "roomId": 1234, "userId": 7})
    assert (spec.sdkAppId, spec.roomId, spec.userId) == ("1400000000", "1234", "7")


@pytest.mark.parametrize(
    ("src", "live"),
    [
        ("http://127.0.0.1:8000/a.mp4", False),
        ("s3://bucket/dir/a.mp4", False),
        ("rtmp://127.0.0.1/live/stream", True),
        ("rtmps://example.com/live/stream", True),
        ("lessons/a.mp4", False),
    ],
)
def test_sources(src, live):
    assert parse(PusherStart, {**SEED_BODY, "videoSrc": src}).is_live is live


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({**SEED_BODY, "videoSrc": "../secret.mp4"}, "videoSrc must not contain '..'"),
        (
            {**SEED_BODY, "videoSrc": "/etc/passwd"},
            "videoSrc must be an http(s), s3 or rtmp(s) URL",
        ),
        ({**SEED_BODY, "videoSrc": "file:///etc/passwd"}, "videoSrc must be an http, https"),
        ({**SEED_BODY, "videoSrc": "s3://bucket"}, "videoSrc must be s3://bucket/key"),
        ({**SEED_BODY, "videoSrc": ""}, "videoSrc must not be empty"),
        ({k: v for k, v in SEED_BODY.items() if k != "userSig"}, "userSig missing"),
        ({**SEED_BODY, "sdkAppId": True}, "sdkAppId must be a string"),
        ({**SEED_BODY, "sdkAppId": "app"}, "sdkAppId must be a number (as a string)"),
        ({**SEED_BODY, "clientRole": "admin"}, "clientRole must be one of anchor, audience"),
        ({**SEED_BODY, "redisPort": 0}, "redisPort must be between 1 and 65535"),
        ({**SEED_BODY, "SeekSecond": -1}, "SeekSecond must be at least 0"),
        ({**SEED_BODY, "Loop": -2}, "Loop must be at least -1"),
    ],
)
def test_bad_fields_are_named(data, expected):
    assert message(data).startswith(expected)


def test_redis_host_outside_the_allowlist_is_refused(allowlist):
    allowlist("[]")
    assert message({**SEED_BODY, "redis": True, "redisHost": "10.1.2.3"}) == (
        "redisHost 10.1.2.3 is not allowed: the farm keeps progress in its own Redis "
        "(allowlist: CAPSTAN_REDIS_HOST_ALLOWLIST)"
    )


def test_redis_host_in_the_allowlist_is_accepted_and_its_password_is_secret(allowlist):
    allowlist('["10.0.0.0/8"]')
    spec = parse(
        PusherStart,
        {**SEED_BODY, "redis": True, "redisHost": "10.1.2.3", "redisPassword": "pw-1"},
    )
    public, secrets = split_secrets(spec)
    assert public["redisHost"] == "10.1.2.3"
    assert "pw-1" not in repr(public)
    assert secrets == {"userSig": "eJw-sig", "redisPassword": "pw-1"}
