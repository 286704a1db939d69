"""The room backend turns (SdkAppId, room, UserId, UserSig) into pull/push URLs from templates."""

from __future__ import annotations

import pytest

from config.settings import Settings
from workers.common.domain import rooms


def settings(**kw: object) -> Settings:
    return Settings(**kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kw", "room", "pull", "push"),
    [
        (
            {},
            "43474",
            "rtmp://127.0.0.1:1935/live/1400000000_43474_user_1",
            "rtmp://127.0.0.1:1935/live/1400000000_43474_user_1",
        ),
        (
            {"room_backend": "trtc", "trtc_cdn_domain": "cdn.example.com"},
            "43474",
            "rtmp://cdn.example.com/live/1400000000_43474_user_1_main",
            "rtmp://rtmp.rtc.qq.com/push/43474?sdkappid=1400000000&userid=user_1&usersig=s%2Bg%3D",
        ),
        (
            {
                "room_pull_template": "rtmp://media:1936/app/{Room}/{UserId}",
                "room_push_template": "rtmps://media/in/{Room}?u={UserId}&sig={UserSig}",
            },
            "a b#c&d?",
            "rtmp://media:1936/app/a%20b%23c%26d%3F/user_1",
            "rtmps://media/in/a%20b%23c%26d%3F?u=user_1&sig=s%2Bg%3D",
        ),
    ],
    ids=["rtmp-default", "trtc-preset", "custom-templates-strroom"],
)
def test_templates_fill_and_encode(kw, room, pull, push):
    s = settings(**kw)
    assert rooms.pull_url(s, 1400000000, room, "user_1", "s+g=") == pull
    assert rooms.push_url(s, 1400000000, room, "user_1", "s+g=") == push


def test_room_is_room_id_else_str_room_id():
    assert rooms.room_of(43474, "ignored") == "43474"
    assert rooms.room_of(None, "class 7") == "class 7"
    with pytest.raises(ValueError):
        rooms.room_of(None, None)


def test_unknown_placeholder_is_a_configuration_error():
    s = settings(room_pull_template="rtmp://h/live/{Roomid}")
    with pytest.raises(ValueError, match=r"\{Roomid\}"):
        rooms.pull_url(s, 1, "2", "u")


@pytest.mark.parametrize(
    ("url", "secrets", "expected"),
    [
        (
            "rtmp://rtmp.rtc.qq.com/push/1?sdkappid=1&userid=u&usersig=eJw%2Babc",
            (),
            "rtmp://rtmp.rtc.qq.com/push/1?sdkappid=1&userid=u&usersig=***",
        ),
        ("rtmp://h/live/x?UserSig=abc&b=1", (), "rtmp://h/live/x?UserSig=***&b=1"),
        ("rtmp://bob:pa55@h/live/x", (), "rtmp://bob:***@h/live/x"),
        ("rtmp://h/live/1_2_u_s+g=", ("s+g=",), "rtmp://h/live/1_2_u_***"),
        ("rtmp://h/live/1_2_u_s%2Bg%3D", ("s+g=",), "rtmp://h/live/1_2_u_***"),
        ("rtmp://127.0.0.1:1935/live/1_2_u", (), "rtmp://127.0.0.1:1935/live/1_2_u"),
    ],
)
def test_redact_hides_credentials(url, secrets, expected):
    assert rooms.redact(url, *secrets) == expected
