"""Request signing: sign_request and verify agree; every way of getting it wrong fails."""

import hashlib
import hmac
import time
from email.utils import formatdate

import pytest

from workers.common.domain.errors import AuthFailure
from workers.common.domain.signing import sign_request, verify

KEYS = {"app1": "s3cret"}
BODY = b'{"Action":"Describe","Data":{"TaskID":"x"}}'


def check(headers, body=BODY, path="/v1/panorama", now=None, method="POST"):
    return verify(method, path, body, headers, KEYS, max_skew_s=300, now=now)


def test_the_signature_is_the_documented_hmac():
    date = "1700000000"
    headers = sign_request("POST", "/v1/panorama", BODY, "app1", "s3cret", date=date)
    text = f"POST\n/v1/panorama\n{date}\n{hashlib.sha256(BODY).hexdigest()}"
    assert (
        headers["X-Capstan-Signature"]
        == hmac.new(b"s3cret", text.encode(), hashlib.sha256).hexdigest()
    )
    assert headers["X-Capstan-Key"] == "app1"


def test_a_signed_request_verifies_with_rfc1123_and_unix_dates():
    assert check(sign_request("POST", "/v1/panorama", BODY, "app1", "s3cret")) == "app1"
    unix = sign_request("POST", "/v1/panorama", BODY, "app1", "s3cret", date=str(int(time.time())))
    assert check(unix) == "app1"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda h: h.pop("X-Capstan-Signature"), "request not signed"),
        (lambda h: h.update({"X-Capstan-Key": "other"}), "unknown application key"),
        (lambda h: h.update({"X-Capstan-Signature": "0" * 64}), "bad signature"),
        (lambda h: h.update({"X-Capstan-Date": "yesterday"}), "X-Capstan-Date is not"),
    ],
)
def test_tampering_fails(change, message):
    headers = sign_request("POST", "/v1/panorama", BODY, "app1", "s3cret")
    change(headers)
    with pytest.raises(AuthFailure, match=message):
        check(headers)


def test_other_body_path_or_method_fails():
    headers = sign_request("POST", "/v1/panorama", BODY, "app1", "s3cret")
    for kwargs in ({"body": BODY + b" "}, {"path": "/v1/recorder"}, {"method": "GET"}):
        with pytest.raises(AuthFailure, match="bad signature"):
            check(headers, **kwargs)


def test_old_or_future_dates_fail():
    old = formatdate(time.time() - 3600, usegmt=True)
    with pytest.raises(AuthFailure, match="request date too old or in the future"):
        check(sign_request("POST", "/v1/panorama", BODY, "app1", "s3cret", date=old))
    future = str(int(time.time()) + 3600)
    with pytest.raises(AuthFailure, match="request date too old or in the future"):
        check(sign_request("POST", "/v1/panorama", BODY, "app1", "s3cret", date=future))
