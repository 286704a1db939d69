"""The panorama pool's Celery task: one line into the shared runtime."""

from celery import shared_task

from workers.common.domain.services import PANORAMA
from workers.common.runtime.loop import run_task
from workers.panorama.session import PanoramaSession


@shared_task(name=PANORAMA.task_name, ignore_result=True)
def run(task_id: str) -> str:
    return run_task(task_id, PanoramaSession)
