"""TaskRef: the Data of Pause/Resume/Refresh/Stop/Describe, and the error converter."""

import pytest
from pydantic import BaseModel, ValidationError

from workers.common.domain.errors import InvalidParam
from workers.common.domain.specs.control import TaskRef
from workers.common.domain.specs.fields import dotted, invalid_param, parse


def test_task_id_is_normalised():
    ref = parse(TaskRef, {"TaskID": "0F7D9522-A1A3-4517-B5AD-7A6ECA000000"})
    assert ref.TaskID == "0f7d9522-a1a3-4517-b5ad-7a6eca000000"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, "TaskID missing"),
        ({"TaskID": 5}, "TaskID must be a string"),
        (
            {"TaskID": "0f7d9522-a1a3-4517-b5ad-7a6eca******"},
            "TaskID must be a TaskID returned by Start (a UUID)",
        ),
    ],
)
def test_bad_task_ids(data, expected):
    with pytest.raises(InvalidParam, match=None) as caught:
        parse(TaskRef, data)
    assert caught.value.message == expected


def test_dotted_paths():
    assert dotted(("Output", "Cos", "Bucket")) == "Output.Cos.Bucket"
    assert dotted(("Files", 2, "Name")) == "Files[2].Name"


def test_converter_keeps_the_first_few_distinct_errors():
    class Many(BaseModel):
        a: int
        b: int
        c: int
        d: int

    with pytest.raises(ValidationError) as caught:
        Many.model_validate({})
    assert invalid_param(caught.value).message == "a missing; b missing; c missing"
