"""The callback receiver and the static server behave as the tests that use them expect."""

import time

import pytest
import requests


def test_the_receiver_records_each_post_and_answers_200(callback_receiver):
    answer = requests.post(
        callback_receiver.url, json={"TaskID": "t1"}, headers={"X-Sig": "abc"}, timeout=5
    )

    [call] = callback_receiver.wait_for(1, timeout=5)
    assert answer.status_code == 200
    assert call.json == {"TaskID": "t1"}
    assert call.headers["X-Sig"] == "abc"
    assert call.status == 200
    assert abs(call.time - time.time()) < 5


def test_the_receiver_fails_the_first_n_then_accepts(callback_receiver):
    callback_receiver.fail_first(2)

    statuses = [requests.post(callback_receiver.url, json={"n": i}, timeout=5).status_code
                for i in range(3)]  # fmt: skip

    assert statuses == [500, 500, 200]
    assert [call.json["n"] for call in callback_receiver.received] == [0, 1, 2]


def test_the_receiver_can_hold_a_request_past_the_clients_timeout(callback_receiver):
    callback_receiver.never_answer(seconds=30)

    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        requests.post(callback_receiver.url, json={"late": True}, timeout=0.5)

    assert time.monotonic() - started < 5
    assert callback_receiver.wait_for(1, timeout=2)[0].status is None


def test_wait_for_times_out_with_a_clear_message(callback_receiver):
    with pytest.raises(AssertionError, match="1 callback"):
        callback_receiver.wait_for(1, timeout=0.2)


@pytest.fixture
def served(tmp_path, static_server):
    (tmp_path / "page.html").write_text("<h1>hello</h1>")
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)) * 4)
    return static_server(tmp_path)


def test_the_static_server_serves_files(served):
    answer = requests.get(served.url_for("page.html"), timeout=5)

    assert answer.status_code == 200
    assert answer.text == "<h1>hello</h1>"
    assert answer.headers["Content-Type"] == "text/html"
    assert answer.headers["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize(
    ("header", "content_range", "expected"),
    [
        ("bytes=0-9", "bytes 0-9/1024", bytes(range(10))),
        ("bytes=1020-", "bytes 1020-1023/1024", bytes([252, 253, 254, 255])),
        ("bytes=-2", "bytes 1022-1023/1024", bytes([254, 255])),
        ("bytes=1000-5000", "bytes 1000-1023/1024", (bytes(range(256)) * 4)[1000:]),
    ],
    ids=["first-ten", "open-end", "suffix", "past-the-end-clipped"],
)
def test_the_static_server_answers_byte_ranges(served, header, content_range, expected):
    answer = requests.get(served.url_for("blob.bin"), headers={"Range": header}, timeout=5)

    assert answer.status_code == 206
    assert answer.headers["Content-Range"] == content_range
    assert answer.content == expected


def test_a_range_past_the_end_is_416(served):
    answer = requests.get(served.url_for("blob.bin"), headers={"Range": "bytes=4096-"}, timeout=5)

    assert answer.status_code == 416
    assert answer.headers["Content-Range"] == "bytes */1024"
