"""panorama Start: the seed's fields, defaults, ranges and messages."""

import pytest

from workers.common.domain.errors import InvalidParam
from workers.common.domain.specs.base import rebuild, split_secrets
from workers.common.domain.specs.fields import parse
from workers.common.domain.specs.panorama import PanoramaStart

KEY = "21834cca41778803e1afba3f41e70c90"
# Seed 004's sample request body, without its Output.Vod part (not supported yet).
SEED_DATA = {
    "RecordURL": "https://web-record-12596******.cos.ap-chengdu.myqcloud.com/test/ponyo.mp4",
    "Width": 1280,
    "Height": 720,
    "CallbackURL": "http://xxx/webrecord/callback",
    "MaxDurationLimit": 21600,
    "Output": {
        "Cos": {
            "Domain": "abc.xxx.com",
            "Bucket": "webrecord-xxx",
            "Region": "ap-shanghai",
            "TargetDir": "11234/",
            "TargetName": "record-file-name.mp4",
        },
        "Video": {
            "Muxer": "hls",
            "EncryptKey": KEY,
            "AuthUrl": "https://hls-web-record-1253970226.cos.ap-shanghai.myqcloud.com/m3u8-encrypt/enc.key",
        },
    },
}


def message(data) -> str:
    with pytest.raises(InvalidParam) as caught:
        parse(PanoramaStart, data)
    return caught.value.message


def test_defaults():
    spec = parse(PanoramaStart, {"RecordURL": "https://example.com/page"})
    assert (spec.Width, spec.Height, spec.MaxDurationLimit) == (1280, 720, 21600)
    assert spec.ManualStart is False
    assert spec.StorageType == "cfs"
    assert spec.video.Muxer == "mp4"
    assert spec.video.EncryptKey is None


def test_zero_means_the_default():
    spec = parse(
        PanoramaStart,
        {"RecordURL": "http://example.com", "Width": 0, "Height": 0, "MaxDurationLimit": 0},
    )
    assert (spec.Width, spec.Height, spec.MaxDurationLimit) == (1280, 720, 21600)


def test_seed_sample_is_accepted_and_its_key_is_a_secret():
    spec = parse(PanoramaStart, SEED_DATA)
    assert spec.video.Muxer == "hls"
    assert spec.cos.TargetName == "record-file-name.mp4"
    public, secrets = split_secrets(spec)
    assert KEY not in repr(public)
    assert secrets == {"Output": {"Video": {"EncryptKey": KEY}}}
    assert rebuild(PanoramaStart, public, secrets) == spec


def test_seed_sample_with_vod_names_the_unsupported_part():
    data = {**SEED_DATA, "Output": {**SEED_DATA["Output"], "Vod": {"SubAppId": 1500007120}}}
    assert message(data) == (
        "Output.Vod is not supported yet: use Output.Cos or the default storage"
    )


def test_video_at_the_top_level_as_in_the_seed_table():
    spec = parse(
        PanoramaStart,
        {"RecordURL": "https://a.example", "Video": {"Muxer": "hls"}},
    )
    assert spec.video.Muxer == "hls"


# ---- several outputs: Muxer as a list -------------------------------------------------


def test_muxer_may_list_mp4_and_hls_in_the_order_asked():
    spec = parse(
        PanoramaStart, {"RecordURL": "https://a.example", "Video": {"Muxer": ["hls", "mp4"]}}
    )
    assert spec.video.muxers == ("hls", "mp4")
    assert parse(PanoramaStart, {"RecordURL": "https://a.example"}).video.muxers == ("mp4",)


def test_mp4_and_encrypted_hls_keep_the_key_a_secret_and_survive_the_record():
    video = {"Muxer": ["mp4", "hls"], "EncryptKey": KEY, "AuthUrl": "https://keys.example/k"}
    spec = parse(PanoramaStart, {"RecordURL": "https://a.example", "Output": {"Video": video}})
    public, secrets = split_secrets(spec)
    assert public["Output"]["Video"]["Muxer"] == ["mp4", "hls"]
    assert KEY not in repr(public)
    assert secrets == {"Output": {"Video": {"EncryptKey": KEY}}}
    assert rebuild(PanoramaStart, public, secrets).video.muxers == ("mp4", "hls")


def test_the_request_schema_documents_the_list_form():
    schema = PanoramaStart.model_json_schema()["$defs"]["VideoConfig"]["properties"]["Muxer"]
    single, listed = schema["anyOf"]
    assert single["enum"] == listed["items"]["enum"] == ["mp4", "hls"]
    assert (listed["minItems"], listed["uniqueItems"]) == (1, True)
    assert "Result.Videos" in schema["description"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, "RecordURL missing"),
        ({"RecordURL": "ftp://x/y"}, "RecordURL must be an http or https URL"),
        ({"RecordURL": 5}, "RecordURL must be a string"),
        ({"RecordURL": "https://x", "Width": 2561}, "Width must be between 0 and 2560"),
        ({"RecordURL": "https://x", "Height": -1}, "Height must be between 0 and 2560"),
        ({"RecordURL": "https://x", "Width": "wide"}, "Width must be an integer"),
        ({"RecordURL": "https://x", "Width": True}, "Width must be an integer"),
        (
            {"RecordURL": "https://x", "MaxDurationLimit": 36001},
            "MaxDurationLimit must be between 0 and 36000",
        ),
        ({"RecordURL": "https://x", "StorageType": "s3"}, "StorageType must be one of cos, cfs"),
        ({"RecordURL": "https://x", "ManualStart": "maybe"}, "ManualStart must be a boolean"),
        (
            {"RecordURL": "https://x", "CallbackURL": "x"},
            "CallbackURL must be an http or https URL",
        ),
        (
            {"RecordURL": "https://x", "Output": {"Cos": {"Bucket": 5}}},
            "Output.Cos.Bucket must be a string",
        ),
        ({"RecordURL": "https://x", "Output": []}, "Output must be an object"),
        (
            {"RecordURL": "https://x", "Output": {"Cos": {"TargetDir": "a/../../etc"}}},
            "Output.Cos.TargetDir must not contain '..'",
        ),
        (
            {"RecordURL": "https://x", "Video": {"Muxer": "flv"}},
            "Video.Muxer must be one of mp4, hls (or a list of them)",
        ),
        (
            {"RecordURL": "https://x", "Video": {"Muxer": []}},
            "Video.Muxer must list at least one format (mp4, hls)",
        ),
        (
            {"RecordURL": "https://x", "Output": {"Video": {"Muxer": ["mp4", "flv"]}}},
            "Output.Video.Muxer lists 'flv': each format must be one of mp4, hls",
        ),
        (
            {"RecordURL": "https://x", "Video": {"Muxer": ["hls", "mp4", "hls"]}},
            "Video.Muxer must not list a format twice",
        ),
        (
            {"RecordURL": "https://x", "Video": {"Muxer": ["mp4"], "EncryptKey": KEY}},
            "Video.EncryptKey needs Muxer hls (MP4 files are not encrypted)",
        ),
        (
            {"RecordURL": "https://x", "Video": {"Muxer": "hls", "EncryptKey": "abc"}},
            "Video.EncryptKey must be 32 hex characters (an AES-128 key)",
        ),
        (
            {"RecordURL": "https://x", "Video": {"Muxer": "mp4", "EncryptKey": KEY}},
            "Video.EncryptKey needs Muxer hls (MP4 files are not encrypted)",
        ),
        (
            {"RecordURL": "https://x", "Video": {"Muxer": "hls", "EncryptKey": KEY}},
            "Video.AuthUrl missing: it is required when EncryptKey is given",
        ),
        ([], "Data must be an object"),
    ],
)
def test_bad_fields_are_named(data, expected):
    assert message(data) == expected


def test_several_errors_are_joined():
    assert message({"Width": 9999}) == "RecordURL missing; Width must be between 0 and 2560"
