"""recorder Start (seeds 000/001): the sample request, the room rule, secrets."""

import pytest

from workers.common.domain.errors import InvalidParam
from workers.common.domain.specs.base import rebuild, split_secrets
from workers.common.domain.specs.fields import parse
from workers.common.domain.specs.recorder import RecorderStart

USER_SIG = (
    "eJwtzNEKgkAUBNB-2efQ3e3eUqG3tMCKJJEIIxxxxxxxxxxxxxxxhvmweLWzGlUxj0mLs1GXKVf3mgrq*GFUdUR0UQrAY"
    "WDyW6Y15cwTwDm4UkxF36iXpkq1joiSc9xxxxxxxxxxxxx-S*CZeOk9sHfnEhCwlUW*fE4oWusw3dULlJ7HoSJ2e6d9fM8"
    "Y98fxUAzWA__"
)
# Seed 000's sample request, as it is.
SEED_BODY = {
    "SdkAppId": 1400000000,
    "RoomId": 43474,
    "UserId": "user_55952145",
    "Mode": "02",
    "UserSig": USER_SIG,
    "CosConfig": {"Region": "ap-shanghai", "Bucket": "test-123456789", "Path": "/trtc"},
}
MINIMAL = {"SdkAppId": 1400000000, "RoomId": 1, "UserId": "u1", "UserSig": "sig"}


def message(data) -> str:
    with pytest.raises(InvalidParam) as caught:
        parse(RecorderStart, data)
    return caught.value.message


def test_seed_sample_is_accepted():
    spec = parse(RecorderStart, SEED_BODY)
    assert spec.Mode == "02"
    assert spec.room == "43474"
    assert spec.unique_key == "recorder:1400000000:43474:user_55952145"


def test_defaults_and_extensions():
    spec = parse(RecorderStart, MINIMAL)
    assert spec.Mode == "00"
    assert spec.CosConfig is None
    assert spec.Callback is None
    assert (spec.MaxIdleTime, spec.MaxDurationLimit) == (300, 21600)
    assert parse(RecorderStart, {**MINIMAL, "MaxDurationLimit": 0}).MaxDurationLimit == 21600


def test_numeric_strings_are_numbers():
    assert parse(RecorderStart, {**MINIMAL, "SdkAppId": "1400000000"}).SdkAppId == 1400000000


def test_str_room_id_alone_and_room_id_wins():
    spec = parse(RecorderStart, {**MINIMAL, "RoomId": None, "StrRoomId": "class-7 a"})
    assert spec.room == "class-7 a"
    assert spec.unique_key == "recorder:1400000000:s:class-7 a:u1"
    both = parse(RecorderStart, {**MINIMAL, "RoomId": 9, "StrRoomId": "x"})
    assert both.room == "9"


def test_secrets_stay_out_of_the_public_dict():
    data = {
        **SEED_BODY,
        "CosConfig": {**SEED_BODY["CosConfig"], "SecretId": "AKID", "SecretKey": "sk-1"},
    }
    public, secrets = split_secrets(parse(RecorderStart, data))
    assert USER_SIG not in repr(public) and "sk-1" not in repr(public)
    assert secrets == {"UserSig": USER_SIG, "CosConfig": {"SecretId": "AKID", "SecretKey": "sk-1"}}
    assert rebuild(RecorderStart, public, secrets).UserSig.get_secret_value() == USER_SIG


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({k: v for k, v in MINIMAL.items() if k != "RoomId"}, "RoomId or StrRoomId missing"),
        ({**MINIMAL, "Mode": "03"}, "Mode must be one of 00, 01, 02"),
        ({**MINIMAL, "Mode": 2}, "Mode must be one of 00, 01, 02"),
        ({**MINIMAL, "SdkAppId": "abc"}, "SdkAppId must be an integer"),
        ({**MINIMAL, "RoomId": 0}, "RoomId must be between 1 and 4294967295"),
        ({**MINIMAL, "RoomId": 4294967296}, "RoomId must be between 1 and 4294967295"),
        ({**MINIMAL, "UserId": ""}, "UserId must be 1-32 letters, digits, '_' or '-'"),
        ({**MINIMAL, "UserId": "x" * 33}, "UserId must be 1-32 letters, digits, '_' or '-'"),
        ({**MINIMAL, "UserId": "a/b"}, "UserId must be 1-32 letters, digits, '_' or '-'"),
        ({**MINIMAL, "UserSig": ""}, "UserSig must not be empty"),
        ({**MINIMAL, "UserSig": None}, "UserSig must be a string"),
        ({**MINIMAL, "Callback": "javascript:x"}, "Callback must be an http or https URL"),
        ({**MINIMAL, "MaxIdleTime": 0}, "MaxIdleTime must be between 1 and 3600"),
        ({**MINIMAL, "CosConfig": {"Region": "r", "Bucket": "b"}}, "CosConfig.Path missing"),
        (
            {**MINIMAL, "CosConfig": {"Region": "r", "Bucket": "b", "Path": "/", "SecretId": "a"}},
            "CosConfig.SecretKey missing: give SecretId and SecretKey, or neither",
        ),
    ],
)
def test_bad_fields_are_named(data, expected):
    assert message(data).startswith(expected)
