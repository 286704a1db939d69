"""A service's facts are declared once (workers/common/domain/services.py); what names the pools
elsewhere without importing the domain (config, the CLI, the pools' sessions) agrees."""

from __future__ import annotations

from importlib import import_module

import pytest

from cli import commands
from cli import parser as cli_parser
from config.settings import POOLS, SERVICES, Settings
from workers.common.domain.services import REGISTRY
from workers.common.domain.specs.fields import parse
from workers.common.domain.states import Action

SESSIONS = {
    "recorder": "workers.recorder.session:RecorderSession",
    "pusher": "workers.pusher.session:PusherSession",
    "panorama": "workers.panorama.session:PanoramaSession",
}


def test_settings_name_the_registrys_services_in_its_order():
    assert tuple(REGISTRY) == SERVICES
    assert tuple(POOLS) == tuple(REGISTRY)


def test_every_per_service_setting_has_a_default_for_every_service():
    settings = Settings()
    assert set(settings.worker_concurrency) == set(REGISTRY)
    assert set(settings.max_active_tasks) == set(REGISTRY)


def test_a_services_queue_and_task_name_follow_from_its_name():
    for name, service in REGISTRY.items():
        assert service.name == name
        assert service.queue == name
        assert service.task_name == f"capstan.{name}.run"


def test_only_the_seeds_recorder_and_pusher_take_a_flat_start():
    assert {name for name, s in REGISTRY.items() if s.flat_start} == {"recorder", "pusher"}


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_a_pools_session_rebuilds_the_start_model_its_service_validates(name):
    module, _, cls = SESSIONS[name].partition(":")
    session = getattr(import_module(module), cls)
    assert session.spec_model is REGISTRY[name].spec_model


def test_the_cli_starts_exactly_the_registrys_services():
    assert set(commands.BUILDERS) == set(REGISTRY)
    assert set(cli_parser.SERVICES) == set(REGISTRY)


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        ("panorama", ["panorama", "start", "https://example.com/", "--size", "640x360", "--hls"]),
        ("recorder", ["recorder", "start", "--room", "43474", "--user", "u1", "--mode", "02"]),
        ("pusher", ["pusher", "start", "clip.mp4", "--room", "1234", "--user", "bot"]),
    ],
)
def test_the_clis_start_bodies_are_valid_starts_of_their_service(name, argv):
    args = cli_parser.build().parse_args(argv)
    spec = parse(REGISTRY[name].spec_model, commands.BUILDERS[name](args))
    assert type(spec) is REGISTRY[name].spec_model


def test_the_clis_controls_are_actions_of_the_services():
    assert list(cli_parser.CONTROLS) == ["pause", "resume", "refresh", "stop"]
    controls = {Action(a) for a in cli_parser.CONTROLS.values()}
    assert controls <= set().union(*(s.actions for s in REGISTRY.values()))
