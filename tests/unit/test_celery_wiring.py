"""The Celery app: built from Settings by the factory, on first use, routed from the registry."""

import subprocess
import sys

import pytest
from celery.app.utils import find_app

from config import celery
from config.celery import celery_app, create_celery, forget_celery_app
from config.settings import Settings
from tests.support.farm import forget_cached_state
from tests.support.tools import REPO
from workers.common.domain.services import REGISTRY


def test_each_service_task_goes_to_its_queue_and_reconcile_to_the_reconciler():
    app = create_celery(Settings())

    routes = app.conf.task_routes
    for service in REGISTRY.values():
        assert routes[service.task_name] == {"queue": service.queue}
    assert routes[celery.RECONCILE_TASK] == {"queue": "reconciler"}
    assert app.conf.beat_schedule["reconcile"]["task"] == celery.RECONCILE_TASK


def test_every_service_tasks_module_and_the_common_ones_are_loaded_by_workers():
    app = create_celery(Settings())

    expected = {f"workers.{name}.tasks" for name in REGISTRY} | set(celery.COMMON_TASK_MODULES)
    assert set(app.conf.include) == expected


def test_the_app_uses_the_settings_it_is_given():
    settings = Settings(redis_url="redis://127.0.0.1:6390", reconcile_every_s=7.0)

    app = create_celery(settings)

    assert app.conf.broker_url == settings.broker_url
    assert app.conf.result_backend == settings.result_url
    assert app.conf.beat_schedule["reconcile"]["schedule"] == 7.0


def test_importing_the_worker_code_builds_no_app():
    code = (
        "import config.celery as c, dispatcher.app, workers.common.runtime.reconciler, "
        "workers.common.runtime.loop; print(c.celery_app.cache_info().currsize)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "0"


def test_celery_dash_a_finds_the_process_app_built_from_the_environment():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CAPSTAN_REDIS_URL", "redis://127.0.0.1:6391")
        settings = forget_cached_state()

        found = find_app("config.celery")

        assert found is celery_app()
        assert found.conf.broker_url == settings.broker_url
        assert ":6391/" in found.conf.broker_url
    forget_cached_state()


def test_forgetting_the_app_builds_the_next_one_from_the_current_settings():
    forget_celery_app()
    try:
        first = celery_app()
        assert celery_app() is first
        forget_celery_app()
        assert celery_app() is not first
    finally:
        forget_celery_app()
