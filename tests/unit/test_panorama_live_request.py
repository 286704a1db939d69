"""Live outputs in the request: LiveOutputs and PauseFrame on a panorama Start, the URL
policy at the edge, the stream key kept as a secret, the CLI's --live, Describe's item."""

from __future__ import annotations

import json

import pytest

from cli import commands
from cli.parser import build
from config.settings import Settings
from dispatcher.urls import check_urls
from workers.common.domain.describe import LiveOutputView, describe
from workers.common.domain.errors import InvalidParam
from workers.common.domain.specs.base import rebuild, split_secrets
from workers.common.domain.specs.fields import parse
from workers.common.domain.specs.panorama import PanoramaStart
from workers.common.domain.states import Status
from workers.common.domain.store import TaskRecord
from workers.panorama.relay import State

PAGE = "https://example.com/class"
KEY = "live_8731_s3cr3t"
URL = f"rtmp://live.example.com/app/{KEY}"


def start(**fields) -> PanoramaStart:
    return parse(PanoramaStart, {"RecordURL": PAGE, **fields})


def message(**fields) -> str:
    with pytest.raises(InvalidParam) as caught:
        start(**fields)
    return caught.value.message


def test_a_start_without_live_outputs_is_as_before():
    spec = start()
    assert spec.LiveOutputs is None and spec.live_urls == []
    assert spec.PauseFrame == "black"
    public, _ = split_secrets(spec)
    assert "LiveOutputs" not in public


def test_live_urls_are_secrets_split_from_the_record_and_joined_back():
    # Given a Start with two live outputs, one of them SRT with a passphrase
    srt = "srt://ingest.example.com:9000?streamid=s&passphrase=p4ss"
    spec = start(LiveOutputs=[{"Url": URL}, {"Url": srt}], PauseFrame="slate")
    # When it is stored: the public part holds no URL, the sealed part both
    public, secrets = split_secrets(spec)
    assert KEY not in repr(public) and "p4ss" not in repr(public)
    assert public["LiveOutputs"] == [{}, {}]
    assert secrets == {"LiveOutputs": [{"Url": URL}, {"Url": srt}]}
    assert KEY not in repr(spec)  # nor in a log line that prints the spec
    # Then the worker rebuilds the same request
    again = rebuild(PanoramaStart, public, secrets)
    assert again.live_urls == [URL, srt]
    assert again.PauseFrame == "slate"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ([{"Url": "http://x/app/k"}], "LiveOutputs[0].Url must be an rtmp, rtmps or srt URL"),
        ([{}], "LiveOutputs[0].Url missing"),
        ([{"Url": "rtmp://a/b c"}], "LiveOutputs[0].Url must not contain spaces"),
        ({"Url": URL}, "LiveOutputs must be a list"),
        ([{"Url": f"{URL}{n}"} for n in range(4)], "LiveOutputs may list at most 3"),
        ([{"Url": URL}, {"Url": URL}], "LiveOutputs lists the same Url twice (items 0 and 1)"),
    ],
)
def test_bad_live_outputs_are_refused_naming_the_field(fields, expected):
    assert message(LiveOutputs=fields).startswith(expected)
    assert message(PauseFrame="white") == "PauseFrame must be one of black, slate"


def test_the_edge_refuses_a_live_url_on_a_private_address():
    settings = Settings(url_allowlist=[])
    spec = start(LiveOutputs=[{"Url": URL}, {"Url": "rtmp://10.0.0.7/live/k"}])
    with pytest.raises(InvalidParam) as caught:
        check_urls(spec, settings)
    assert caught.value.message.startswith("LiveOutputs[1].Url resolves to 10.0.0.7, a private")
    allowed = Settings(url_allowlist=["10.0.0.0/8"])
    check_urls(start(LiveOutputs=[{"Url": "rtmp://10.0.0.7/live/k"}]), allowed)


def test_cli_live_and_pause_frame_options():
    argv = ["panorama", "start", PAGE, "--live", URL, "--live", "srt://h:9000"]
    args = build().parse_args([*argv, "--pause-frame", "slate"])
    assert commands.panorama_data(args) == {
        "RecordURL": PAGE,
        "LiveOutputs": [{"Url": URL}, {"Url": "srt://h:9000"}],
        "PauseFrame": "slate",
    }


def test_describe_shows_live_outputs_by_the_model_only():
    # Given a worker's Progress item with a field the model does not name
    item = {"Url": "rtmp://live.example.com/app/***", "State": "retrying", "Attempts": 3,
            "LastError": "Connection refused", "Raw": URL}  # fmt: skip
    progress = {"LiveOutputs": json.dumps([item])}  # as the store keeps it
    record = TaskRecord("t1", "panorama", Status.RECORDING, spec={}, progress=progress)
    # When it is described, only the model's fields are shown
    (shown,) = describe(record, "rid")["Progress"]["LiveOutputs"]
    assert KEY not in repr(shown)
    assert shown == {k: v for k, v in item.items() if k != "Raw"}


def test_describe_names_every_state_a_relay_reports():
    states = LiveOutputView.model_fields["State"].annotation.__args__
    assert set(states) == {str(state) for state in State}
