"""The supervisor with stand-in components: start in order, report a death, stop in reverse."""

import sys

import pytest

from deploy.local.process import ChildFailed
from deploy.local.stack import Command, Layout, Ready
from deploy.local.supervisor import Supervisor
from tests.support.tools import free_port


def _web(port):
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    return Command("web", argv, Ready("http", f"http://127.0.0.1:{port}/"))


DOOMED = """
import socket, sys, time
server = socket.create_server(("127.0.0.1", int(sys.argv[1])))
time.sleep(1)
print("fatal: out of cheese", file=sys.stderr)
sys.exit(3)
"""


def _dies_after_a_second(port):
    argv = [sys.executable, "-c", DOOMED, str(port)]
    return Command("doomed", argv, Ready("tcp", f"127.0.0.1:{port}"))


def test_a_dying_component_is_named_with_its_last_lines_and_the_rest_stop(tmp_path, capsys):
    stages = [[_web(free_port())], [_dies_after_a_second(free_port())]]
    supervisor = Supervisor(stages, Layout(tmp_path), {}, 5)

    supervisor.start(ready_timeout=30)
    with pytest.raises(ChildFailed) as failure:
        supervisor.watch(interval=0.1)
    supervisor.stop()

    assert failure.value.name == "doomed"
    assert "exited with code 3" in str(failure.value)
    assert "fatal: out of cheese" in str(failure.value)
    out = capsys.readouterr().out
    assert out.index("web is up") < out.index("doomed is up")
    assert out.index("doomed stopped") < out.index("web stopped")
    assert (tmp_path / "log" / "web.log").exists()


def test_a_component_that_never_gets_ready_is_reported(tmp_path):
    never = Command("sleeper", ["sleep", "30"], Ready("tcp", f"127.0.0.1:{free_port()}"))
    supervisor = Supervisor([[never]], Layout(tmp_path), {}, 1)

    with pytest.raises(ChildFailed, match="sleeper not ready after 1s"):
        supervisor.start(ready_timeout=1)
    supervisor.stop()

    assert supervisor.running == []
