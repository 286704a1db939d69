"""The CLI without a farm: configuration, request bodies, signing, rendering, exit codes."""

from __future__ import annotations

import json

import pytest
import requests

from cli import commands, render
from cli.__main__ import main
from cli.client import ApiError, Client, Unreachable
from cli.config import DEFAULT_URL, Config, ConfigError, resolve
from cli.parser import build
from workers.common.domain.signing import verify

# ---- configuration ------------------------------------------------------------------


def test_flags_win_over_the_environment_which_wins_over_defaults():
    env = {
        "CAPSTAN_CLI_URL": "http://farm:9000/",
        "CAPSTAN_CLI_KEY": "k",
        "CAPSTAN_CLI_SECRET": "s",
    }
    assert resolve({}) == Config(DEFAULT_URL, "", "")
    assert resolve(env) == Config("http://farm:9000", "k", "s")
    assert resolve(env, url="other:1", key="k2", secret="s2") == Config(
        "http://other:1", "k2", "s2"
    )
    assert resolve(env, key="", secret="") == Config("http://farm:9000", "", "")


def test_a_key_needs_its_secret():
    with pytest.raises(ConfigError, match="--secret"):
        resolve({"CAPSTAN_CLI_KEY": "k"})
    with pytest.raises(ConfigError, match="--key"):
        resolve({}, secret="s")


# ---- request bodies -----------------------------------------------------------------


def parse(*argv: str):
    return build().parse_args(list(argv))


def test_panorama_start_options_become_the_seeds_fields():
    args = parse("panorama", "start", "https://example.com/", "--size", "640x360", "--hls",
                 "--max-duration", "600", "--encrypt-key", "ab" * 16, "--auth-url",
                 "https://keys/k", "--name", "class")  # fmt: skip
    assert commands.panorama_data(args) == {
        "RecordURL": "https://example.com/",
        "Width": 640,
        "Height": 360,
        "MaxDurationLimit": 600,
        "Video": {"Muxer": "hls", "EncryptKey": "ab" * 16, "AuthUrl": "https://keys/k"},
        "Output": {"Cos": {"TargetName": "class"}},
    }
    assert commands.panorama_data(parse("panorama", "start", "http://x/")) == {
        "RecordURL": "http://x/"
    }


def test_recorder_room_is_a_number_or_a_string_room():
    numeric = parse("recorder", "start", "--app", "1400000000", "--room", "43474", "--user", "u1",
                    "--mode", "02")  # fmt: skip
    assert commands.recorder_data(numeric) == {
        "SdkAppId": 1400000000,
        "RoomId": 43474,
        "UserId": "u1",
        "UserSig": "local",
        "Mode": "02",
    }
    named = parse("recorder", "start", "--room", "class-7", "--user", "u1")
    assert commands.recorder_data(named)["StrRoomId"] == "class-7"


def test_pusher_fields_are_lower_camel_strings():
    args = parse("pusher", "start", "clip.mp4", "--room", "1234", "--user", "bot", "--seek", "5")
    assert commands.pusher_data(args) == {
        "videoSrc": "clip.mp4",
        "sdkAppId": "1400000000",
        "roomId": "1234",
        "userId": "bot",
        "userSig": "local",
        "SeekSecond": 5.0,
    }


def test_shared_options_go_before_or_after_the_command():
    assert parse("--json", "--url", "http://a", "ls").url == "http://a"
    after = parse("ls", "--json", "--url", "http://b")
    assert (after.url, after.json) == ("http://b", True)
    assert parse("panorama", "start", "http://page/").record_url == "http://page/"


@pytest.mark.parametrize("argv", [["panorama", "start", "u", "--size", "wide"], ["nope"], []])
def test_bad_command_lines_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2


# ---- the client: signing and errors --------------------------------------------------


class Recorded(requests.Session):
    """A session that answers every request with one canned response."""

    def __init__(self, status: int, body: object) -> None:
        super().__init__()
        self.status, self.body, self.sent = status, body, []

    def send(self, request, **kwargs):
        self.sent.append(request)
        response = requests.Response()
        response.status_code = self.status
        response._content = json.dumps(self.body).encode() if self.body is not None else b"<html>"
        response.request, response.url = request, request.url
        return response


def test_requests_are_signed_over_path_query_and_body():
    session = Recorded(200, {"Tasks": []})
    client = Client(Config("http://farm:8080", "k", "s"), session)
    client.tasks("panorama", "finished", 5)
    client.action("panorama", "Stop", {"TaskID": "x"})
    for sent in session.sent:
        path = sent.path_url
        key = verify(sent.method, path, sent.body or b"", sent.headers, {"k": "s"}, max_skew_s=60)
        assert key == "k"
    assert session.sent[0].path_url == "/v1/tasks?service=panorama&status=finished&limit=5"


def test_unsigned_without_a_key():
    session = Recorded(200, {"Tasks": []})
    Client(Config(), session).tasks(None, None, 1)
    assert "X-Capstan-Signature" not in session.sent[0].headers


def test_error_bodies_become_api_errors_and_other_answers_unreachable():
    body = {"ErrorCode": "TaskNotFound", "ErrorMessage": "TaskID x not found", "RequestID": "r1"}
    with pytest.raises(ApiError) as raised:
        Client(Config(), Recorded(404, body)).task("x")
    assert (raised.value.code, raised.value.request_id) == ("TaskNotFound", "r1")
    with pytest.raises(Unreachable, match="not a JSON answer"):
        Client(Config(), Recorded(502, None)).task("x")


# ---- rendering ----------------------------------------------------------------------


def test_sizes_durations_and_bars():
    assert [render.size(n) for n in (0, 999, 1500, 2_500_000)] == [
        "0 B",
        "999 B",
        "1.5 kB",
        "2.5 MB",
    ]
    assert [render.duration(s) for s in (0, 65.4, 3725)] == ["0:00", "1:05", "1:02:05"]
    assert render.bar(50, width=10) == "[#####-----]  50.0%"
    assert render.bar(150, width=4) == "[####] 100.0%"


def test_status_lines_for_a_recording_and_a_push():
    recording = {"TaskID": "t1", "Status": "recording",
                 "Progress": {"RecordedSeconds": 12.2, "Bytes": 1_200_000}}  # fmt: skip
    assert render.status_line(recording) == "t1  recording  0:12 recorded, 1.2 MB"
    pushing = {"TaskID": "t2", "Status": "pushing",
               "Progress": {"Position": 30, "Duration": 120, "Percent": 25}}  # fmt: skip
    assert render.status_line(pushing) == f"t2  pushing    {render.bar(25)} 0:30/2:00"
    assert render.status_line({"TaskID": "t3", "Status": "normal"}) == "t3  normal   "


def test_finished_task_lines_and_failures():
    done = {
        "TaskID": "t1",
        "Service": "panorama",
        "Status": "finished",
        "Result": {"Videos": [{"Filename": "1.mp4", "FileSize": 2000, "FileDuration": 10.0,
                               "FileURL": "http://farm/files/t1/1.mp4"}]},
        "Callback": {"Attempts": [{"Attempt": 1, "Time": 0, "Ok": False, "Error": "HTTP 500"}]},
    }  # fmt: skip
    assert render.file_lines(done) == ["http://farm/files/t1/1.mp4  (2.0 kB, 0:10)"]
    lines = render.describe(done)
    assert "Status:    finished" in lines
    assert any(line.startswith("Callback:  #1") and "failed: HTTP 500" in line for line in lines)
    failed = {"Status": "finished", "Result": {"ErrorCode": "PageLoadFailed", "ErrorMessage": "x"}}
    assert render.failure(failed) == "PageLoadFailed: x"
    assert commands.ended(failed, commands.Output()) == commands.EXIT_TASK_FAILED


def test_table_has_a_header_and_a_row_per_task():
    lines = render.table([{"TaskID": "t1", "Service": "pusher", "Status": "normal"}])
    assert lines[0].split() == ["TASKID", "SERVICE", "STATUS", "CREATED", "ELAPSED", "FILE"]
    assert lines[1].split()[:3] == ["t1", "pusher", "normal"]
