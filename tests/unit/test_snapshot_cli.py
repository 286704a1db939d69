"""`capstan panorama|recorder start --snapshots SECONDS`: the request's Snapshots."""

from __future__ import annotations

from cli import commands
from cli.parser import build


def parse(*argv: str):
    return build().parse_args(list(argv))


def test_snapshots_every_n_seconds_on_both_recordings():
    panorama = parse("panorama", "start", "https://example.com/", "--snapshots", "10")
    assert commands.panorama_data(panorama)["Snapshots"] == {"IntervalSeconds": 10}
    recorder = parse("recorder", "start", "--room", "1", "--user", "u1", "--mode", "02",
                     "--snapshots", "5")  # fmt: skip
    assert commands.recorder_data(recorder)["Snapshots"] == {"IntervalSeconds": 5}


def test_without_the_option_the_request_has_no_snapshots():
    assert "Snapshots" not in commands.panorama_data(parse("panorama", "start", "http://x/"))
    recorder = parse("recorder", "start", "--room", "1", "--user", "u1")
    assert "Snapshots" not in commands.recorder_data(recorder)
