"""The pusher pool's Celery task: one line into the shared runtime."""

from celery import shared_task

from workers.common.domain.services import PUSHER
from workers.common.runtime.loop import run_task
from workers.pusher.session import PusherSession


@shared_task(name=PUSHER.task_name, ignore_result=True)
def run(task_id: str) -> str:
    return run_task(task_id, PusherSession)
