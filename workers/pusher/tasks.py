"""The pusher pool's Celery task: one line into the shared runtime."""

from config.celery import app
from workers.common.runtime import run_task
from workers.common.services import PUSHER
from workers.pusher.session import PusherSession


@app.task(name=PUSHER.task_name, ignore_result=True)
def run(task_id: str) -> str:
    return run_task(task_id, PusherSession)
