"""The chart never renders a farm that loses recordings: every pod that writes output
reaches the same place (S3, a ReadWriteMany claim, or one node's claim), or `helm template`
fails naming the values to set. Every role gets CAPSTAN_SECRET_KEY from the Secret."""

import pytest
import yaml
from cryptography.fernet import Fernet

from tests.support.helm import (
    CHART,
    LOSING,
    STORAGE_SETS,
    by_kind,
    containers,
    render,
    run_helm,
)

WRITERS = ("capstan-dispatcher", "capstan-recorder", "capstan-pusher", "capstan-panorama")


def data_volumes(manifests: list[dict]) -> dict[str, dict]:
    """The data volume of each pod that writes output."""
    deployments = by_kind(manifests, "Deployment")
    return {
        name: next(
            v
            for v in deployments[name]["spec"]["template"]["spec"]["volumes"]
            if v["name"] == "data"
        )
        for name in WRITERS
    }


def test_a_farm_whose_pods_share_no_disk_is_refused_naming_the_values_to_set():
    result = run_helm("template", "capstan", str(CHART), *LOSING)
    assert result.returncode != 0
    assert "loses recordings" in result.stderr
    for value in (
        "settings.storage=s3",
        "dataVolume.existingClaim",
        "dataVolume.singleNode.enabled",
    ):
        assert value in result.stderr


def test_s3_storage_needs_a_bucket():
    result = run_helm(
        "template", "capstan", str(CHART), "--set", "settings.storage=s3,settings.s3_bucket="
    )
    assert result.returncode != 0
    assert "settings.storage=s3 needs settings.s3_bucket" in result.stderr


def test_by_default_every_writer_shares_one_claim_on_one_node():
    manifests = render()
    (claim,) = by_kind(manifests, "PersistentVolumeClaim").values()
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    deployments = by_kind(manifests, "Deployment")
    for name, volume in data_volumes(manifests).items():
        assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
        pod = deployments[name]["spec"]["template"]
        (term,) = pod["spec"]["affinity"]["podAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert term["labelSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()


def test_single_node_keeps_a_components_own_affinity():
    values = "dispatcher.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]"
    manifests = render(
        "--set",
        f"{values}.weight=1",
        "--set",
        f"{values}.preference.matchExpressions[0].key=ssd",
        "--set",
        f"{values}.preference.matchExpressions[0].operator=Exists",
    )
    affinity = by_kind(manifests, "Deployment")["capstan-dispatcher"]["spec"]["template"]["spec"][
        "affinity"
    ]
    assert (
        affinity["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["weight"]
        == 1
    )
    assert affinity["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]


def test_with_s3_pods_keep_only_scratch_and_spread_freely():
    manifests = render(*STORAGE_SETS["s3"])
    assert not by_kind(manifests, "PersistentVolumeClaim")
    deployments = by_kind(manifests, "Deployment")
    for name, volume in data_volumes(manifests).items():
        assert volume == {"name": "data", "emptyDir": {}}
        assert "affinity" not in deployments[name]["spec"]["template"]["spec"]
    (settings,) = by_kind(manifests, "ConfigMap").values()
    assert settings["data"]["CAPSTAN_STORAGE"] == "s3"


def test_a_read_write_many_claim_is_mounted_by_every_writer():
    manifests = render(*STORAGE_SETS["shared-claim"])
    assert not by_kind(manifests, "PersistentVolumeClaim")
    for volume in data_volumes(manifests).values():
        assert volume["persistentVolumeClaim"]["claimName"] == "capstan-rwx"


@pytest.mark.parametrize("storage", sorted(STORAGE_SETS))
def test_every_role_reads_the_secret_key_from_the_secret(storage):
    manifests = render(*STORAGE_SETS[storage])
    (secret,) = by_kind(manifests, "Secret").values()
    Fernet(secret["stringData"]["secret-key"].encode())  # generated: a valid Fernet key
    for workload, container in containers(manifests):
        if workload["kind"] != "Deployment":
            continue
        env = {e["name"]: e for e in container["env"]}
        ref = env["CAPSTAN_SECRET_KEY"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": secret["metadata"]["name"], "key": "secret-key"}


def test_a_rotated_key_list_reaches_the_secret_as_given():
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    manifests = render("--set", f"secrets.secretKey={new}\\,{old}")
    (secret,) = by_kind(manifests, "Secret").values()
    assert secret["stringData"]["secret-key"] == f"{new},{old}"
    assert yaml.safe_load(secret["stringData"]["app-keys"])
