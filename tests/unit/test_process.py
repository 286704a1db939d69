"""ManagedProcess with real child processes: the farm's way (stderr through a pipe) and the
local farm's (output into a log file, stopped as a service)."""

import logging
import sys
import time
from urllib.parse import quote

import pytest

from tests.support.procs import gone
from workers.common.media.process import SERVICE, ManagedProcess, ProcessFailed


def test_ready_on_a_stderr_line_and_tail_keeps_the_last_lines():
    code = (
        "import sys,time\n"
        "for i in range(50): print('line', i, file=sys.stderr)\n"
        "print('READY', file=sys.stderr, flush=True)\n"
        "time.sleep(30)"
    )
    proc = ManagedProcess("py", [sys.executable, "-c", code], tail_lines=5).start()
    try:
        proc.wait_ready(pattern="READY", timeout_s=10)
        assert proc.tail()[-1] == "READY"
        assert len(proc.tail()) == 5
    finally:
        proc.close()
    assert not proc.alive


def test_a_child_that_dies_before_ready_says_why():
    code = "import sys; print('boom: no such input', file=sys.stderr); sys.exit(3)"
    proc = ManagedProcess("py", [sys.executable, "-c", code]).start()
    with pytest.raises(ProcessFailed, match=r"exited before it was ready \(exit code 3\): boom"):
        proc.wait_ready(pattern="never", timeout_s=10)
    proc.close()


def test_stop_escalates_past_a_child_that_ignores_sigint_and_sigterm():
    code = (
        "import signal,time\n"
        "for s in (signal.SIGINT, signal.SIGTERM): signal.signal(s, signal.SIG_IGN)\n"
        "print('up', flush=True)\n"
        "time.sleep(60)"
    )
    proc = ManagedProcess("stubborn", [sys.executable, "-c", code]).start()
    time.sleep(0.5)
    code_ = proc.stop(grace_s=0.5)
    assert code_ == -9
    proc.close()
    proc.close()  # idempotent


def test_quit_key_lets_a_child_finish_cleanly():
    code = "import sys\nsys.stdin.read(1)\nsys.exit(0)"
    proc = ManagedProcess("q", [sys.executable, "-c", code]).start()
    assert proc.stop(grace_s=5, quit_key=True) == 0
    proc.close()


# ---- the local farm's way: output into a log file, stopped as a service --------------


def test_with_a_log_file_both_streams_land_in_it_and_the_tail_is_read_back(tmp_path):
    code = "import sys\nprint('to stdout', flush=True)\nprint('to stderr', file=sys.stderr)"
    log = tmp_path / "logs" / "py.log"
    proc = ManagedProcess("py", [sys.executable, "-c", code], log_file=log).start()
    assert proc.wait(10)
    proc.close()
    assert log.read_text().splitlines()[0].startswith("--- start ")
    assert proc.tail(2) == ["to stdout", "to stderr"]


def test_with_a_log_file_a_child_that_dies_before_ready_says_why(tmp_path):
    code = "import sys; print('fatal: out of cheese', file=sys.stderr); sys.exit(3)"
    proc = ManagedProcess("py", [sys.executable, "-c", code], log_file=tmp_path / "py.log")
    proc.start()
    with pytest.raises(ProcessFailed, match=r"before it was ready \(exit code 3\): .*cheese$"):
        proc.wait_ready(lambda: False, timeout_s=10)
    proc.close()


def test_a_service_gets_sigterm_alone_and_what_it_started_is_killed_with_its_group(tmp_path):
    # A leader that leaves a grandchild behind when SIGTERM ends it (a forking server)
    code = (
        "import signal,subprocess,sys,time\n"
        "grandchild = subprocess.Popen(['sleep', '60'])\n"
        "print('grandchild', grandchild.pid, flush=True)\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
        "time.sleep(60)"
    )
    log = tmp_path / "service.log"
    proc = ManagedProcess("svc", [sys.executable, "-c", code], log_file=log, stop_steps=SERVICE)
    proc.start()
    proc.wait_ready(lambda: proc.tail(1)[0].startswith("grandchild "), timeout_s=10)
    grandchild = int(proc.tail(1)[0].split()[1])

    assert proc.stop(grace_s=5) == 0  # the leader ended on its SIGTERM
    proc.close()

    deadline = time.monotonic() + 5
    while not gone(grandchild):
        assert time.monotonic() < deadline, "the grandchild outlived the stop"
        time.sleep(0.05)


def test_on_line_needs_the_pipe(tmp_path):
    with pytest.raises(ValueError, match="on_line"):
        ManagedProcess("x", ["true"], on_line=print, log_file=tmp_path / "x.log")


def test_secrets_are_hidden_in_everything_the_process_shows(tmp_path, caplog):
    """A stream key or UserSig in a child's command line and output never reaches a log
    line, the tail or a failure message (they end up in Describe and the callback)."""
    key = "live_123?sig=a/b"
    script = f"import sys; print('rtmp://host/app/{key} refused', file=sys.stderr); sys.exit(3)"
    caplog.set_level(logging.DEBUG, logger="workers.common.media.process")
    piped = ManagedProcess("piped", [sys.executable, "-c", script, key], secrets=[key]).start()
    piped.wait(10)
    logged = tmp_path / "child.log"
    to_file = ManagedProcess(
        "to-file", [sys.executable, "-c", script, key], secrets=[key], log_file=logged
    ).start()
    to_file.wait(10)
    for proc in (piped, to_file):
        shown = "\n".join(proc.tail()) + str(proc.failure("the relay failed"))
        assert "refused" in shown and "***" in shown
        assert key not in shown and quote(key, safe="") not in shown
        proc.close()
    assert "***" in caplog.text and key not in caplog.text
    assert key not in logged.read_text().splitlines()[0]  # the header we write; ffmpeg's own
    # lines go straight to the file, where only the worker's disk sees them
