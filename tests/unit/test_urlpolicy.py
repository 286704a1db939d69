"""The SSRF guard: which addresses a task may make the farm reach."""

import pytest

from workers.common.domain.urlpolicy import MEDIA, UrlRefused, check

REFUSED = [
    ("http://127.0.0.1:8080/x", "loopback"),
    ("http://localhost/x", "loopback"),
    ("http://[::1]/x", "loopback"),
    ("http://10.1.2.3/", "private"),
    ("http://192.168.0.10/", "private"),
    ("http://172.16.5.5/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("http://169.254.10.10/", "link-local"),
    ("http://0.0.0.0/", "reserved"),
    ("http://224.0.0.1/", "reserved"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_internal_addresses_are_refused_with_the_reason(url, reason):
    with pytest.raises(UrlRefused, match=f"a {reason} address"):
        check(url, [])


def test_an_allowlisted_network_is_reachable():
    check("http://127.0.0.1:8080/page", ["127.0.0.0/8"])
    with pytest.raises(UrlRefused):
        check("http://10.0.0.1/", ["127.0.0.0/8"])


def test_public_addresses_pass():
    check("https://93.184.216.34/page", [])


@pytest.mark.parametrize(
    ("url", "schemes", "message"),
    [
        ("file:///etc/passwd", None, "must be a http/https URL, not file"),
        ("gopher://x/", None, "not gopher"),
        ("rtmp://93.184.216.34/live/x", None, "not rtmp"),
        ("http:///nohost", None, "has no host"),
    ],
)
def test_schemes_and_hosts(url, schemes, message):
    with pytest.raises(UrlRefused, match=message):
        check(url, [], schemes or frozenset({"http", "https"}))


def test_media_sources_may_be_rtmp():
    check("rtmp://93.184.216.34/live/x", [], MEDIA)


def test_an_unresolvable_host_is_refused():
    with pytest.raises(UrlRefused, match="does not resolve"):
        check("http://no-such-host.invalid/", [])


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/x", "cloud metadata"),
        ("http://10.0.0.7/", "private"),
        ("http://[::1]/", "loopback"),
        ("http://LOCALHOST./", "loopback"),
        ("http://app.localhost/", "loopback"),
    ],
)
def test_the_edge_check_refuses_literals_and_localhost_without_dns(url, reason):
    with pytest.raises(UrlRefused, match=f"a {reason} address"):
        check(url, [], resolve_names=False)


def test_the_edge_check_leaves_names_to_the_worker():
    check("http://no-such-host.invalid/", [], resolve_names=False)  # no DNS asked
    with pytest.raises(UrlRefused, match="does not resolve"):
        check("http://no-such-host.invalid/", [])  # the worker's check
