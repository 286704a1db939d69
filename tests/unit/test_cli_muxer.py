"""`capstan panorama start --muxer`: the formats of Video.Muxer, as the seeds write one and
as a list for several."""

from __future__ import annotations

import pytest

from cli import commands
from cli.parser import build


def video(*argv: str) -> dict[str, object] | None:
    args = build().parse_args(["panorama", "start", "https://example.com/", *argv])
    return commands.panorama_data(args).get("Video")  # type: ignore[return-value]


def test_several_formats_become_a_list_in_the_order_given():
    assert video("--muxer", "mp4,hls") == {"Muxer": ["mp4", "hls"]}
    assert video("--muxer", "HLS, mp4") == {"Muxer": ["hls", "mp4"]}


def test_one_format_stays_the_seeds_string():
    assert video("--muxer", "hls") == {"Muxer": "hls"}
    assert video("--hls") == {"Muxer": "hls"}
    assert video() is None


def test_an_encrypt_key_keeps_the_formats_asked_for():
    key = "ab" * 16
    assert video("--muxer", "mp4,hls", "--encrypt-key", key, "--auth-url", "https://k/k") == {
        "Muxer": ["mp4", "hls"],
        "EncryptKey": key,
        "AuthUrl": "https://k/k",
    }
    assert video("--encrypt-key", key)["Muxer"] == "hls"  # type: ignore[index]


@pytest.mark.parametrize(
    "argv",
    [("--muxer", "flv"), ("--muxer", "mp4,mp4"), ("--muxer", ""), ("--muxer", "mp4,"),
     ("--hls", "--muxer", "mp4")],
)  # fmt: skip
def test_a_bad_format_list_is_a_command_line_error(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        video(*argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "--muxer" in err
