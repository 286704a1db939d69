"""One source of truth: the chart's queue names, ports and CAPSTAN_* variables are the code's
(config.settings), not a second list that drifts."""

import pytest

from config.settings import SERVICES, Settings
from dispatcher.answers import PoolCapacity
from tests.support.helm import (
    VALUE_SETS,
    by_kind,
    containers,
    render,
)
from workers.common.runtime.probe import PROBED_ROLES

PREFIX = "CAPSTAN_"


def chart_env_names(manifests: list[dict]) -> set[str]:
    """Every CAPSTAN_* name the chart sets: container env and the settings ConfigMap."""
    names = {e["name"] for _, c in containers(manifests) for e in c.get("env", [])}
    for config_map in by_kind(manifests, "ConfigMap").values():
        names |= set(config_map.get("data", {}))
    return {name for name in names if name.startswith(PREFIX)}


def env_of(container: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


@pytest.mark.parametrize("values", sorted(VALUE_SETS))
def test_every_capstan_env_var_is_a_settings_field(values):
    names = chart_env_names(render(*VALUE_SETS[values]))
    assert names, "the chart sets no CAPSTAN_* variable?"
    unknown = {n for n in names if n[len(PREFIX) :].lower() not in Settings.model_fields}
    assert not unknown, f"not fields of config.settings.Settings: {sorted(unknown)}"


def test_worker_deployments_are_exactly_the_services_queues():
    manifests = render()
    queues = {}
    for workload, container in containers(manifests):
        if container["args"][0] == "worker":
            queues[workload["metadata"]["name"]] = container["args"][1]
    assert sorted(queues.values()) == sorted(SERVICES)
    assert all(name == f"capstan-{queue}" for name, queue in queues.items())


def test_keda_reads_the_demand_of_every_pool_the_capacity_route_answers():
    scaled = by_kind(render(*VALUE_SETS["keda-detected"]), "ScaledObject")
    locations = sorted(
        s["spec"]["triggers"][0]["metadata"]["valueLocation"] for s in scaled.values()
    )
    assert locations == sorted(f"pools.{pool}.demand" for pool in SERVICES)
    assert "demand" in PoolCapacity.model_fields


@pytest.mark.parametrize("keda", [True, False])
def test_autoscaled_slots_name_every_pool_and_count_what_keda_can_reach(monkeypatch, keda):
    # CAPSTAN_ADMISSION_AUTOSCALED_SLOTS replaces the whole dict, so it must name every pool.
    args = ["--set", "workers.pools.panorama.autoscaling.maxReplicas=7"]
    manifests = render(*args, *(VALUE_SETS["keda-detected"] if keda else ()))
    (dispatcher,) = (
        c for w, c in containers(manifests) if w["metadata"]["name"].endswith("-dispatcher")
    )
    monkeypatch.setenv(
        "CAPSTAN_ADMISSION_AUTOSCALED_SLOTS",
        env_of(dispatcher)["CAPSTAN_ADMISSION_AUTOSCALED_SLOTS"],
    )
    slots = Settings().admission_autoscaled_slots
    assert sorted(slots) == sorted(SERVICES)
    # maxReplicas 7 x concurrency 2; a CPU HPA does not see queued tasks.
    assert slots["panorama"] == (14 if keda else 0)


def test_concurrency_setting_names_every_pool(monkeypatch):
    # CAPSTAN_WORKER_CONCURRENCY replaces the whole dict, so it must name every pool;
    # Settings parses it as the workers will (the entrypoint passes it to `celery -c`).
    for _, container in containers(render("--set", "workers.pools.panorama.concurrency=3")):
        if concurrency := env_of(container).get("CAPSTAN_WORKER_CONCURRENCY"):
            monkeypatch.setenv("CAPSTAN_WORKER_CONCURRENCY", concurrency)
            parsed = Settings().worker_concurrency
            assert sorted(parsed) == sorted(SERVICES)
            assert parsed["panorama"] == 3


def test_probes_name_roles_the_probe_knows():
    for _, container in containers(render()):
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            command = container.get(probe, {}).get("exec", {}).get("command", [])
            if "workers.common.runtime.probe" in command:
                assert command[command.index("--pool") + 1] in PROBED_ROLES


@pytest.mark.parametrize(
    ("component", "setting"), [("dispatcher", "port"), ("flower", "flower_port")]
)
def test_ports_are_the_settings_defaults_and_wired_through_env(component, setting):
    default = Settings.model_fields[setting].default
    for custom in (None, 9123):
        args = ("--set", f"{component}.port={custom}") if custom else ()
        deployment = by_kind(render(*args), "Deployment")[f"capstan-{component}"]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        (port,) = container["ports"]
        # The container listens where Settings says (the entrypoint reads the setting).
        assert port["containerPort"] == int(env_of(container)[PREFIX + setting.upper()])
        assert port["containerPort"] == (custom or default)
