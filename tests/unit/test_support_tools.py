"""require(): a missing tool skips on a laptop and fails under CI=true."""

import pytest

from tests.support.tools import free_port, require


def test_a_present_tool_gives_its_path():
    assert require("sh").endswith("/sh")
    assert require("python:pytest")


def test_a_missing_tool_skips_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(pytest.skip.Exception, match="no-such-tool"):
        require("no-such-tool")


def test_a_missing_tool_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")

    with pytest.raises(pytest.fail.Exception, match="CI=true: no-such-tool"):
        require("no-such-tool")
    with pytest.raises(pytest.fail.Exception, match="no_such_module"):
        require("python:no_such_module")


def test_free_ports_are_distinct_and_unprivileged():
    ports = {free_port() for _ in range(5)}

    assert len(ports) == 5
    assert all(port > 1024 for port in ports)
