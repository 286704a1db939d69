"""A newcomer's `make test` runs the chart tests: `make install` gets helm, into the venv
where the tests look for it, and .ci/run gets it the same way."""

from __future__ import annotations

from tests.support.tools import REPO


def test_make_install_gets_helm_into_the_venv_and_ci_does_the_same():
    makefile = (REPO / "Makefile").read_text()
    install = next(line for line in makefile.splitlines() if line.startswith("install:"))
    assert "helm" in install.split("##")[0].split()[1:]
    assert "HELM := $(VENV)/bin/helm" in makefile  # tests/support/helm.find_helm looks there
    assert "\nmake helm\n" in (REPO / ".ci/run").read_text()
