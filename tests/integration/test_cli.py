"""`capstan` as a user runs it: a subprocess against a real dispatcher (granian) and Redis,
and for the lifecycle a real panorama worker recording a local test page.

Exit codes: 0 done, 1 refused by the farm (ErrorCode on stderr), 2 bad command line,
3 dispatcher unreachable, 4 the task ended with an error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass

import pytest

from tests.support import media
from tests.support.panorama_helpers import PAGES, page_url
from tests.support.tools import REPO, free_port, require_browser_stack, wait_until

pytestmark = pytest.mark.integration

KEYS = {"cli-key": "cli-secret"}
PANORAMA_ENV = {"CAPSTAN_SEGMENT_SECONDS": "2", "CAPSTAN_PAGE_LOAD_TIMEOUT_S": "8"}


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


class Capstan:
    """`python -m cli ...` with CAPSTAN_CLI_* pointing at one dispatcher."""

    def __init__(self, url: str, key: str = "", secret: str = "") -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAPSTAN_CLI_")}
        env.update(CAPSTAN_CLI_URL=url, CAPSTAN_CLI_KEY=key, CAPSTAN_CLI_SECRET=secret)
        self.env = env

    def __call__(self, *args: str, timeout: float = 120) -> Run:
        done = subprocess.run(
            [sys.executable, "-m", "cli", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def signed_farm(farm_process):
    """A dispatcher that wants signed requests (no worker: nothing runs)."""
    return farm_process("dispatcher", env={"CAPSTAN_APP_KEYS": json.dumps(KEYS)})


@pytest.fixture
def capstan(signed_farm) -> Capstan:
    return Capstan(signed_farm.url, *next(iter(KEYS.items())))


# ---- errors: each code, its message and exit status ---------------------------------


def test_unsigned_and_badly_signed_requests_are_auth_failures(signed_farm):
    # Given a farm with app keys, when the CLI has no key, or the wrong secret
    for run in (
        Capstan(signed_farm.url)("ls"),
        Capstan(signed_farm.url, "cli-key", "not-the-secret")("ls"),
        Capstan(signed_farm.url, "unknown", "x")("describe", str(uuid.uuid4())),
    ):
        # Then it says AuthFailure and exits 1
        assert run.code == 1, run
        assert run.err.startswith("error: AuthFailure: "), run.err
        assert run.out == ""


def test_key_flags_win_over_the_environment(signed_farm):
    run = Capstan(signed_farm.url, "cli-key", "wrong")(
        "ls", "--key", "cli-key", "--secret", "cli-secret"
    )
    assert run.code == 0, run


def test_a_key_without_its_secret_is_a_usage_error(signed_farm):
    run = Capstan(signed_farm.url)("--key", "cli-key", "ls")
    assert run.code == 2
    assert "--secret" in run.err


def test_invalid_params_name_the_field(capstan):
    run = capstan("panorama", "start", "ftp://example.com/", "--size", "9999x720")
    assert run.code == 1, run
    assert run.err.startswith("error: InvalidParam: ")
    assert "RecordURL must be an http or https URL" in run.err
    assert "Width must be between 0 and 2560" in run.err

    run = capstan("stop", "not-a-task", "--service", "panorama")
    assert (run.code, run.err.split(":")[1].strip()) == (1, "InvalidParam"), run


def test_json_prints_the_error_body_for_scripts(capstan):
    run = capstan("--json", "panorama", "start", "not a url")
    assert run.code == 1
    body = run.json()
    assert body["ErrorCode"] == "InvalidParam"
    assert body["RequestID"] in run.err


def test_unknown_task_is_task_not_found(capstan):
    missing = str(uuid.uuid4())
    for args in (
        ("describe", missing),
        ("stop", missing),
        ("watch", missing),
        ("fetch", missing, "x"),
    ):
        run = capstan(*args)
        assert run.code == 1, (args, run)
        assert run.err.startswith(f"error: TaskNotFound: TaskID {missing} not found"), run.err


def test_actions_out_of_state_are_invalid_state(capstan, signed_farm):
    # Given a panorama task nobody runs (no worker: it stays "normal")
    started = capstan("panorama", "start", "http://127.0.0.1:9/page.html")
    assert started.code == 0, started
    task_id = started.out.strip()
    assert uuid.UUID(task_id)

    # When it is paused, Then InvalidState: Pause needs a recording
    run = capstan("pause", task_id)
    assert run.code == 1
    assert "InvalidState: Pause refused: task is normal" in run.err

    # When it is stopped, it is canceled; a second Stop is InvalidState
    assert capstan("stop", task_id).out.strip() == f"Stop accepted for {task_id}"
    assert capstan("describe", "--json", task_id).json()["Status"] == "canceled"
    again = capstan("stop", task_id)
    assert again.code == 1 and "InvalidState" in again.err

    # And watch ends at once: canceled, no file, exit 0; fetch has nothing to fetch
    watched = capstan("watch", task_id)
    assert watched.code == 0, watched
    assert "canceled" in watched.out and "no file" in watched.err
    fetched = capstan("fetch", task_id, "out")
    assert fetched.code == 1 and "the task is canceled" in fetched.err


def test_ls_lists_and_filters(capstan):
    first = capstan("panorama", "start", "http://127.0.0.1:9/a.html").out.strip()
    second = capstan("panorama", "start", "http://127.0.0.1:9/b.html").out.strip()
    capstan("stop", second)

    table = capstan("ls").out.splitlines()
    assert table[0].split()[:3] == ["TASKID", "SERVICE", "STATUS"]
    assert [line.split()[0] for line in table[1:]] == [second, first]  # newest first

    canceled = capstan("ls", "--status", "canceled", "--json").json()["Tasks"]
    assert [t["TaskID"] for t in canceled] == [second]
    assert capstan("ls", "--service", "recorder").err.strip() == "no tasks"
    assert capstan("ls", "--status", "sleeping").code == 2  # argparse: not a state


def test_unreachable_dispatcher_exits_3():
    run = Capstan(f"http://127.0.0.1:{free_port()}")("ls")
    assert run.code == 3
    assert "cannot reach the dispatcher" in run.err


def test_bad_command_lines_exit_2(capstan):
    assert capstan("panorama", "start", "http://x/", "--size", "big").code == 2
    assert capstan("recorder", "start", "--user", "u1").code == 2  # --room missing
    assert capstan("frobnicate").code == 2


def test_recorder_start_sends_the_seeds_fields(capstan):
    # The recorder may or may not have a pipeline in this build: either way the request
    # reached it signed and valid (a TaskID), or it was refused as unavailable (503).
    run = capstan("--json", "recorder", "start", "--app", "1400000000", "--room", "43474",
                  "--user", "u1", "--mode", "02")  # fmt: skip
    body = run.json()
    if run.code == 0:
        record = capstan("describe", "--json", body["TaskID"]).json()
        assert record["Service"] == "recorder"
        capstan("stop", body["TaskID"])
    else:
        assert body["ErrorCode"] == "ServiceUnavailable", body


def test_the_bin_shim_runs_the_cli(signed_farm):
    shim = REPO / "bin" / "capstan"
    env = Capstan(signed_farm.url, "cli-key", "cli-secret").env
    done = subprocess.run([str(shim), "ls"], env=env, capture_output=True, text=True,
                          cwd="/", timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr


# ---- the lifecycle: a panorama recording of a local page -----------------------------


@pytest.fixture
def panorama_farm(farm_process, capstan_env_vars, monkeypatch):
    require_browser_stack()
    capstan_env_vars.update(PANORAMA_ENV)
    dispatcher = farm_process("dispatcher", env={"CAPSTAN_APP_KEYS": json.dumps(KEYS)})
    farm_process("panorama", concurrency=1)
    return dispatcher


def test_start_pause_resume_stop_watch_fetch(panorama_farm, static_server, tmp_path):
    capstan = Capstan(panorama_farm.url, "cli-key", "cli-secret")
    pages = static_server(PAGES)

    # Given a recording of a red page started from the CLI
    started = capstan("panorama", "start", page_url(pages.url, bg="ff0000", tone=440),
                      "--size", "640x360")  # fmt: skip
    assert started.code == 0, started
    task_id = started.out.strip()

    def status() -> str:
        return str(capstan("describe", "--json", task_id).json()["Status"])

    # When it records, pauses, resumes and stops
    wait_until(lambda: status() == "recording", 60, 0.5, "recording")
    wait_until(
        lambda: capstan("describe", "--json", task_id).json().get("Progress", {}).get(
            "RecordedSeconds", 0) >= 2, 60, 0.5, "2 s recorded")  # fmt: skip
    described = capstan("describe", task_id)
    assert "Status:    recording" in described.out and " recorded" in described.out
    assert capstan("pause", task_id).code == 0
    assert status() == "paused"
    assert capstan("resume", task_id).code == 0
    assert capstan("refresh", task_id).code == 0
    assert capstan("stop", task_id).code == 0

    # Then watch follows it to the end and prints the file's URL
    watched = capstan("watch", task_id, "--interval", "0.5", timeout=180)
    assert watched.code == 0, watched
    lines = watched.out.strip().splitlines()
    assert lines[-2].startswith(task_id) and "finished" in lines[-2]
    assert "/files/" in lines[-1] and ".mp4" in lines[-1]

    # and fetch downloads the MP4, which plays as H.264/AAC at 640x360
    fetched = capstan("fetch", task_id, str(tmp_path / "out"))
    assert fetched.code == 0, fetched
    (mp4,) = (tmp_path / "out").glob("*.mp4")
    assert str(mp4) in fetched.out
    assert media.codecs(mp4) == {"video": "h264", "audio": "aac"}
    assert media.probe(mp4)["duration"] > 1


def test_start_wait_hls_then_fetch_gets_playlist_and_segments(
    panorama_farm, static_server, tmp_path
):
    capstan = Capstan(panorama_farm.url, "cli-key", "cli-secret")
    pages = static_server(PAGES)

    # When an HLS recording limited to 4 s is started with --wait
    page = page_url(pages.url, bg="0000ff")
    hls = ("--size", "480x272", "--hls", "--max-duration", "4")
    run = capstan("panorama", "start", page, *hls, "--wait", "--interval", "0.5", timeout=240)

    # Then it prints the TaskID, the states it went through, and the playlist's URL
    assert run.code == 0, run
    lines = run.out.strip().splitlines()
    task_id = lines[0]
    assert any("recording" in line for line in lines[1:])
    assert lines[-1].split()[0].endswith(".m3u8")

    # and fetch brings the playlist and every segment it names
    fetched = capstan("--json", "fetch", task_id, str(tmp_path))
    assert fetched.code == 0, fetched
    files = fetched.json()["Files"]
    assert files[0]["Path"].endswith(".m3u8") and len(files) >= 2
    assert all(os.path.getsize(f["Path"]) == f["Bytes"] > 0 for f in files)
    assert media.probe(files[0]["Path"])["duration"] > 1
