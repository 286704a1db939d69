"""The benches import test helpers lazily, inside functions: a rename in tests/support breaks a
bench only when someone runs the hour. Resolve every absolute import in bench/ here instead."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _imports() -> list[tuple[str, int, str, str]]:
    found = []
    for path in sorted(BENCH.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found += [(path.name, node.lineno, node.module, a.name) for a in node.names]
    return found


@pytest.mark.parametrize(("bench", "line", "module", "name"), _imports())
def test_bench_import_resolves(bench: str, line: int, module: str, name: str) -> None:
    imported = importlib.import_module(module)
    if not hasattr(imported, name):
        importlib.import_module(f"{module}.{name}")  # a submodule, or ModuleNotFoundError names it
