"""ManagedProcess with real child processes."""

import sys
import time

import pytest

from workers.common.process import ManagedProcess, ProcessFailed


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
