"""The dispatcher's access line: the fields gunicorn's format named, and no body or query
secret beyond the request line."""

import datetime
from types import SimpleNamespace

from dispatcher.access_log import LINE, access_fields


def test_the_access_line_names_client_request_status_size_time_and_request_id():
    response = SimpleNamespace(
        status="200 OK", sent=96, headers=[("Content-Type", "x"), ("X-Request-Id", "rid-1")]
    )
    environ = {
        "REMOTE_ADDR": "10.0.0.7",
        "REQUEST_METHOD": "POST",
        "RAW_URI": "/v1/panorama",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": b'{"UserSig": "secret"}',
    }

    line = LINE % access_fields(response, environ, datetime.timedelta(microseconds=1234))

    assert line == '10.0.0.7 "POST /v1/panorama HTTP/1.1" 200 96 1234us rid=rid-1'


def test_an_answer_without_a_request_id_is_logged_with_a_dash():
    response = SimpleNamespace(status="404 NOT FOUND", sent=None, headers=[])

    fields = access_fields(response, {}, datetime.timedelta(seconds=1))

    assert fields[4:] == ("404", 0, 1_000_000, "-")
