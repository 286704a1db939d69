"""The dispatcher's access line: client, request line without its query, status, size, time
and the RequestID; never the body or the query (a file link's signature)."""

import time

from flask import Response

from dispatcher.access_log import LINE, access_fields


def test_the_access_line_names_client_request_status_size_time_and_request_id():
    response = Response(b'{"TaskID":"t"}', 200, headers={"X-Request-Id": "rid-1"})
    environ = {
        "REMOTE_ADDR": "10.0.0.7",
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/files/panorama/t/out.mp4",
        "QUERY_STRING": "expires=1&signature=s3cret",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": b'{"UserSig": "secret"}',
    }

    line = LINE % access_fields(response, environ, time.perf_counter() - 0.002)

    assert line.startswith('10.0.0.7 "GET /files/panorama/t/out.mp4 HTTP/1.1" 200 14 ')
    micros = int(line.split()[6].removesuffix("us"))
    assert 2000 <= micros < 10_000_000
    assert line.endswith(" rid=rid-1")
    assert "s3cret" not in line and "secret" not in line


def test_an_answer_without_a_request_id_or_start_is_logged_with_a_dash_and_zero():
    response = Response(status=404)
    response.headers.pop("Content-Length", None)

    fields = access_fields(response, {}, None)

    assert fields[4:] == (404, 0, 0, "-")
