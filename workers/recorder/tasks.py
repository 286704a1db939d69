"""The recorder pool's Celery task: one line into the shared runtime."""

from celery import shared_task

from workers.common.domain.services import RECORDER
from workers.common.runtime.loop import run_task
from workers.recorder.session import RecorderSession


@shared_task(name=RECORDER.task_name, ignore_result=True)
def run(task_id: str) -> str:
    return run_task(task_id, RecorderSession)
