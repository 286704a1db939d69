"""The Data of Pause / Resume / Refresh / Stop / Describe: the task it is about."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


def task_id(value: str) -> str:
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise ValueError("must be a TaskID returned by Start (a UUID)") from None


TaskIdText = Annotated[str, AfterValidator(task_id)]


class TaskRef(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    TaskID: TaskIdText
