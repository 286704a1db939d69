"""The imports point one way (ARCHITECTURE.md): each package imports only what its row in
the table allows, so a domain module never reaches into the runtime, a pool never into
another pool, and the dispatcher never into a pool's media pipeline."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = ("config", "workers", "dispatcher", "cli", "deploy", "bench", "tests")

DOMAIN = "workers.common.domain"
# package -> the first-party modules (and their submodules) it may import
ALLOWED: dict[str, tuple[str, ...]] = {
    "config": ("config", f"{DOMAIN}.services"),
    DOMAIN: ("config", DOMAIN),
    "workers.common.pacing": ("workers.common.pacing",),
    "workers.common.media": (
        "config",
        "workers.common.media",
        f"{DOMAIN}.errors",
        f"{DOMAIN}.redaction",
    ),
    "workers.common.delivery": (
        "config",
        DOMAIN,
        "workers.common.delivery",
        "workers.common.media",
        "workers.common.pacing",
    ),
    "workers.common.runtime": ("config", "workers.common"),
    **{
        f"workers.{pool}": ("config", "workers.common", f"workers.{pool}")
        for pool in ("recorder", "pusher", "panorama")
    },
    "dispatcher": (
        "config",
        "dispatcher",
        DOMAIN,
        "workers.common.delivery",
        "workers.common.runtime.enqueue",
    ),
    "cli": ("cli", DOMAIN),
    "deploy": ("config", "deploy", "workers.common.media.process"),
}


def imports_of(path: Path) -> set[str]:
    """The first-party modules a file imports (``from a.b import c`` counts as a.b.c
    when c is a module, as a.b otherwise: both are checked as prefixes)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] in FIRST_PARTY}


def allowed(name: str, prefixes: tuple[str, ...]) -> bool:
    # "from workers.common.domain import errors" is workers.common.domain.errors
    return any(name == p or name.startswith(f"{p}.") or p.startswith(f"{name}.") for p in prefixes)


def package_of(module: str) -> str | None:
    matches = [
        package for package in ALLOWED if module == package or module.startswith(f"{package}.")
    ]
    return max(matches, key=len) if matches else None


def test_every_package_imports_only_what_its_row_allows():
    wrong = []
    for path in sorted(ROOT.glob("**/*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in (".venv", "tests", "bench") or "__pycache__" in relative.parts:
            continue
        module = ".".join(relative.with_suffix("").parts)
        package = package_of(module)
        if package is None:
            continue
        wrong += [
            f"{relative} imports {name}"
            for name in sorted(imports_of(path))
            if not allowed(name, ALLOWED[package])
        ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_in_the_table_exists(package):
    assert (ROOT / package.replace(".", "/")).is_dir(), package
