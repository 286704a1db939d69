"""Start's optional Snapshots: validated at the edge with the field named; the seeds'
requests stay valid without it."""

from __future__ import annotations

import pytest

from workers.common.domain.errors import InvalidParam
from workers.common.domain.specs.fields import parse
from workers.common.domain.specs.panorama import PanoramaStart
from workers.common.domain.specs.recorder import RecorderStart
from workers.common.domain.specs.snapshots import DEFAULT_MAX_COUNT

PANORAMA = {"RecordURL": "https://example.com/class"}
RECORDER = {"SdkAppId": 1400000000, "RoomId": 1, "UserId": "u1", "UserSig": "sig", "Mode": "02"}


def message(model, data) -> str:
    with pytest.raises(InvalidParam) as caught:
        parse(model, data)
    return caught.value.message


def test_without_snapshots_nothing_changes():
    assert parse(PanoramaStart, PANORAMA).Snapshots is None
    assert parse(RecorderStart, RECORDER).Snapshots is None


@pytest.mark.parametrize("model,base", [(PanoramaStart, PANORAMA), (RecorderStart, RECORDER)])
def test_an_interval_alone_takes_jpegs_up_to_the_default_cap(model, base):
    spec = parse(model, {**base, "Snapshots": {"IntervalSeconds": 10}})
    assert spec.Snapshots is not None
    assert (spec.Snapshots.IntervalSeconds, spec.Snapshots.Format) == (10, "jpg")
    assert spec.Snapshots.MaxCount == DEFAULT_MAX_COUNT


@pytest.mark.parametrize(
    ("snapshots", "said"),
    [
        ({}, "Snapshots.IntervalSeconds missing"),
        ({"IntervalSeconds": 0}, "Snapshots.IntervalSeconds must be between 1 and 3600"),
        ({"IntervalSeconds": 3601}, "Snapshots.IntervalSeconds must be between 1 and 3600"),
        ({"IntervalSeconds": True}, "Snapshots.IntervalSeconds must be an integer"),
        ({"IntervalSeconds": 5, "Format": "gif"}, "Snapshots.Format must be one of jpg, png"),
        ({"IntervalSeconds": 5, "MaxCount": 0}, "Snapshots.MaxCount must be between 1 and 3600"),
        ("every 10 s", "Snapshots must be an object"),
    ],
)
def test_bad_snapshots_are_refused_naming_the_field(snapshots, said):
    assert message(PanoramaStart, {**PANORAMA, "Snapshots": snapshots}) == said


def test_a_recorder_of_sound_only_has_no_frame_to_take():
    said = message(RecorderStart, {**RECORDER, "Mode": "00", "Snapshots": {"IntervalSeconds": 5}})
    assert said == "Snapshots needs video: use Mode 01 or 02 (Mode 00 records audio only)"
    spec = parse(RecorderStart, {**RECORDER, "Mode": "01", "Snapshots": {"IntervalSeconds": 5}})
    assert spec.Snapshots is not None


def test_snapshots_survive_the_record_and_are_in_the_spec_document():
    spec = parse(PanoramaStart, {**PANORAMA, "Snapshots": {"IntervalSeconds": 3, "Format": "png"}})
    again = PanoramaStart.model_validate(spec.model_dump(by_alias=True, exclude_none=True))
    assert again.Snapshots == spec.Snapshots
    schema = PanoramaStart.model_json_schema()
    fields = schema["$defs"]["SnapshotsConfig"]["properties"]
    assert (
        fields["IntervalSeconds"]["minimum"] == 1 and fields["IntervalSeconds"]["maximum"] == 3600
    )
    assert fields["Format"]["enum"] == ["jpg", "png"]
