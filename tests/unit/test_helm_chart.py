"""The Helm chart: it lints, renders with default and production-like values, and every
rendered manifest is valid for the supported Kubernetes versions (real helm, bundled schemas,
no cluster). CRDs (KEDA, Prometheus Operator) get structural checks of their required fields.
"""

import pytest
import yaml
from cryptography.fernet import Fernet

from tests.support.helm import CHART, VALUE_SETS, by_kind, containers, helm, missing, render

try:  # requirements-dev.txt; absent on a bare laptop
    import kubernetes_validate
except ImportError:
    kubernetes_validate = None

# The Kubernetes versions the chart supports; validated against kubernetes-validate's schemas.
KUBE_VERSIONS = ("1.28.0", "1.30.0", "1.31.0")
CRD_KINDS = {"ScaledObject", "ServiceMonitor"}


@pytest.mark.parametrize("values", ["default", "production", "sentinel"])
def test_chart_lints(values):
    out = helm("lint", str(CHART), "--strict", *VALUE_SETS[values])
    assert "0 chart(s) failed" in out


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("values", sorted(VALUE_SETS))
def test_every_manifest_is_valid_for_supported_kubernetes(values, kube_version):
    if kubernetes_validate is None:
        missing("kubernetes-validate (pip install kubernetes-validate)")
    manifests = render(*VALUE_SETS[values], kube_version=kube_version)
    checked = 0
    for manifest in manifests:
        if manifest["kind"] in CRD_KINDS:
            continue
        kubernetes_validate.validate(manifest, kube_version, strict=True)
        checked += 1
    assert checked >= 10


def test_default_values_render_the_whole_farm():
    manifests = render()
    deployments = by_kind(manifests, "Deployment")
    assert set(deployments) == {
        "capstan-dispatcher",
        "capstan-recorder",
        "capstan-pusher",
        "capstan-panorama",
        "capstan-reconciler",
        "capstan-flower",
    }
    assert set(by_kind(manifests, "StatefulSet")) == {"capstan-redis"}
    assert set(by_kind(manifests, "PodDisruptionBudget")) == {
        "capstan-recorder",
        "capstan-pusher",
        "capstan-panorama",
    }
    # No KEDA API in a bare `helm template`: "auto" falls back to CPU HPAs.
    assert len(by_kind(manifests, "HorizontalPodAutoscaler")) == 3
    assert not by_kind(manifests, "ScaledObject")


def test_keda_scales_each_pool_on_its_demand_in_slots_per_pod():
    manifests = render(*VALUE_SETS["keda-detected"])
    assert not by_kind(manifests, "HorizontalPodAutoscaler")
    concurrency = {"recorder": "40", "pusher": "40", "panorama": "2"}  # values.yaml
    for name, scaled in by_kind(manifests, "ScaledObject").items():
        pool = name.removeprefix("capstan-")
        spec = scaled["spec"]
        assert spec["scaleTargetRef"]["name"] == name
        assert spec["minReplicaCount"] >= 1
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "metrics-api"
        meta = trigger["metadata"]
        assert all(isinstance(v, str) for v in meta.values())  # KEDA wants strings
        # replicas = ceil(demand / one pod's slots): running tasks count, not just the queue.
        assert meta["url"] == "http://capstan-dispatcher.default.svc:80/v1/ops/capacity"
        assert meta["valueLocation"] == f"pools.{pool}.demand"
        assert meta["targetValue"] == concurrency[pool]
        down = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]
        assert down["stabilizationWindowSeconds"] >= 300
        assert down["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 300}]
    # The capacity route is unsigned, like /metrics: KEDA needs no credentials.
    assert not by_kind(manifests, "TriggerAuthentication")


def test_service_monitors_scrape_dispatcher_and_flower():
    monitors = by_kind(render(*VALUE_SETS["production"]), "ServiceMonitor")
    assert set(monitors) == {"capstan-dispatcher", "capstan-flower"}
    for monitor in monitors.values():
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert monitor["spec"]["selector"]["matchLabels"]
        assert monitor["spec"]["endpoints"] == [
            {"port": "http", "path": "/metrics", "interval": "30s"}
        ]


def test_workers_drain_and_are_probed():
    deployments = by_kind(render(), "Deployment")
    for pool in ("recorder", "pusher", "panorama"):
        pod = deployments[f"capstan-{pool}"]["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] >= 60
        (worker,) = pod["containers"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            command = worker[probe]["exec"]["command"]
            assert command[:3] == ["python", "-m", "workers.common.runtime.probe"]
            assert command[command.index("--pool") + 1] == pool


def test_panorama_gets_shared_memory_and_more_resources():
    deployments = by_kind(render(), "Deployment")
    panorama = deployments["capstan-panorama"]["spec"]["template"]["spec"]
    shm = next(v for v in panorama["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"]["medium"] == "Memory"
    assert {"name": "dshm", "mountPath": "/dev/shm"} in panorama["containers"][0]["volumeMounts"]
    recorder = deployments["capstan-recorder"]["spec"]["template"]["spec"]
    assert all(v["name"] != "dshm" for v in recorder["volumes"])


def test_every_pod_runs_non_root_on_a_read_only_root():
    for workload, container in containers(render(*VALUE_SETS["production"])):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_reconciler_is_exactly_one():
    reconciler = by_kind(render(), "Deployment")["capstan-reconciler"]["spec"]
    assert reconciler["replicas"] == 1
    assert reconciler["strategy"] == {"type": "Recreate"}


def test_in_chart_redis_keeps_an_aof_and_never_evicts():
    redis = by_kind(render(), "StatefulSet")["capstan-redis"]["spec"]
    args = redis["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"
    assert redis["volumeClaimTemplates"][0]["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_external_redis_replaces_the_statefulset():
    manifests = render(*VALUE_SETS["production"])
    assert not by_kind(manifests, "StatefulSet")
    for _, container in containers(manifests):
        env = {e["name"]: e for e in container.get("env", [])}
        assert env["CAPSTAN_REDIS_URL"]["value"].endswith("@redis.prod.internal:6380")


def test_sentinel_makes_every_role_follow_the_master_with_passwords_from_the_secret():
    manifests = render(*VALUE_SETS["sentinel"], *VALUE_SETS["keda-detected"])
    assert not by_kind(manifests, "StatefulSet")
    sentinels = ["s-0.redis:26379", "s-1.redis:26379", "s-2.redis:26379"]
    for _, container in containers(manifests):
        env = {e["name"]: e for e in container.get("env", [])}
        url = env["CAPSTAN_REDIS_URL"]["value"]
        # The master's password from the Secret, in the first URL (as kombu reads it)
        assert url.split(";") == [
            f"sentinel://:$(REDIS_PASSWORD)@{sentinels[0]}",
            *(f"sentinel://{s}" for s in sentinels[1:]),
        ]
        assert list(env).index("REDIS_PASSWORD") < list(env).index("CAPSTAN_REDIS_URL")
        assert env["CAPSTAN_REDIS_MASTER_NAME"]["value"] == "capstan"
        assert env["CAPSTAN_REDIS_MIN_REPLICAS"]["value"] == "1"
        ref = env["CAPSTAN_REDIS_SENTINEL_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert ref["key"] == "redis-sentinel-password"
    (secret,) = by_kind(manifests, "Secret").values()
    assert secret["stringData"]["redis-sentinel-password"] == "s-pw"


def test_existing_secret_is_used_and_no_secret_is_rendered():
    manifests = render(*VALUE_SETS["production"])
    assert not by_kind(manifests, "Secret")
    refs = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for _, c in containers(manifests)
        for e in c.get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert refs == {"capstan-prod"}


def test_generated_secrets_are_usable():
    (secret,) = by_kind(render(), "Secret").values()
    data = secret["stringData"]
    Fernet(data["secret-key"].encode())  # a valid Fernet key
    assert yaml.safe_load(data["app-keys"])  # a non-empty JSON object
    user, password = data["flower-basic-auth"].split(":")
    assert user and len(password) >= 16
