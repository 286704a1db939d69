"""The recorder pool's Celery task: one line into the shared runtime."""

from config.celery import app
from workers.common.runtime import run_task
from workers.common.services import RECORDER
from workers.recorder.session import RecorderSession


@app.task(name=RECORDER.task_name, ignore_result=True)
def run(task_id: str) -> str:
    return run_task(task_id, RecorderSession)
