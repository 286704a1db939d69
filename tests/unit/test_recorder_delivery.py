"""The seeds' result body and where the file goes (no servers: S3 clients are not called)."""

from __future__ import annotations

from config.settings import Settings
from workers.common.delivery.storage import LocalStorage, S3Storage
from workers.common.domain.specs.fields import parse
from workers.common.domain.specs.recorder import RecorderStart
from workers.common.runtime.session import UploadedFile
from workers.recorder import delivery

SAMPLE = {
    "SdkAppId": 1400000000,
    "RoomId": 43474,
    "UserId": "user_55952145",
    "Mode": "02",
    "UserSig": "eJwtzNEK",
    "CosConfig": {"Region": "ap-shanghai", "Bucket": "test-123456789", "Path": "/trtc"},
}
FILE = UploadedFile("u.mp4", "trtc/u.mp4", "http://s3/test-123456789/trtc/u.mp4", 10, 5.0)


def spec(**fields) -> RecorderStart:
    return parse(RecorderStart, {**SAMPLE, **fields})


def test_success_body_is_the_seeds_with_string_ids():
    assert delivery.seeds_body(spec(), [FILE], "") == {
        "SdkAppId": "1400000000",
        "RoomId": "43474",
        "StrRoomId": "",
        "UserId": "user_55952145",
        "Files": [
            {"UserId": "user_55952145", "RecordFile": FILE.url, "Status": 1, "Message": "success"}
        ],
    }


def test_failure_body_says_what_failed():
    body = delivery.seeds_body(
        spec(RoomId=None, StrRoomId="class 7"), [], "writing to storage failed: AccessDenied"
    )
    assert (body["RoomId"], body["StrRoomId"]) == ("", "class 7")
    assert body["Files"] == [
        {
            "UserId": "user_55952145",
            "RecordFile": "",
            "Status": 0,
            "Message": "writing to storage failed: AccessDenied",
        }
    ]


def test_cos_config_uses_the_request_keys_and_the_farm_endpoint():
    settings = Settings(s3_endpoint_url="http://s3.local:9000", s3_access_key="farm")
    own = spec(CosConfig={**SAMPLE["CosConfig"], "SecretId": "AKIDme", "SecretKey": "mine"})
    where = delivery.destination(own, settings, "task-1")
    assert isinstance(where.storage, S3Storage)
    assert where.directory == "trtc"
    assert (where.storage.where.access_key, where.storage.where.secret_key) == ("AKIDme", "mine")
    assert (where.storage.where.bucket, where.storage.where.region) == (
        "test-123456789",
        "ap-shanghai",
    )
    assert where.storage.endpoint == "http://s3.local:9000"


def test_cos_config_without_keys_uses_the_farm_credentials():
    settings = Settings(s3_access_key="farm-id", s3_secret_key="farm-key")
    where = delivery.destination(spec(), settings, "task-1")
    assert isinstance(where.storage, S3Storage)
    assert (where.storage.where.access_key, where.storage.where.secret_key) == (
        "farm-id",
        "farm-key",
    )


def test_no_cos_config_is_the_default_storage_under_the_task():
    settings = Settings()
    body = {k: v for k, v in SAMPLE.items() if k != "CosConfig"}
    where = delivery.destination(parse(RecorderStart, body), settings, "task-1")
    assert isinstance(where.storage, LocalStorage) and where.directory == "task-1"
