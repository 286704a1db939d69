"""URL policy: the farm fetches from and sends to public addresses only.

Every URL a task makes the farm reach (RecordURL and the page's own requests, CallbackURL,
videoSrc) must use an allowed scheme and must not resolve to a loopback, private,
link-local, multicast, reserved or cloud-metadata address, unless that address is in
``CAPSTAN_URL_ALLOWLIST`` (the local stack and the tests allow 127.0.0.0/8).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

WEB = frozenset({"http", "https"})
MEDIA = frozenset({"http", "https", "rtmp", "rtmps"})

MAX_REDIRECTS = 5

_METADATA = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))


class UrlRefused(ValueError):
    """The URL may not be reached; the message says why and what to change."""


def check(
    url: str,
    allowlist: Iterable[str],
    schemes: frozenset[str] = WEB,
    *,
    resolve_names: bool = True,
) -> None:
    """Raise UrlRefused unless ``url`` is allowed; resolves its host (DNS) to decide.

    ``resolve_names=False`` (the dispatcher's early check): no DNS in the request path,
    so a slow resolver cannot stall Starts. IP literals and localhost names are checked;
    other names pass here and are checked by the worker right before it connects (the
    check that also defeats DNS rebinding)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in schemes:
        raise UrlRefused(f"must be a {'/'.join(sorted(schemes))} URL, not {parts.scheme or 'none'}")
    host = parts.hostname
    if not host:
        raise UrlRefused("has no host")
    if resolve_names:
        addresses = resolve(host)
    else:
        addresses = _without_dns(host)
        if not addresses:
            return
    why = refusal(addresses, allowlist)
    if why:
        raise UrlRefused(why)


def _without_dns(host: str) -> list[Address]:
    """The addresses a host stands for when that needs no DNS: an IP literal, localhost."""
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):  # RFC 6761: always loopback
        return [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
    try:
        return [ipaddress.ip_address(name)]
    except ValueError:
        return []


def refusal(addresses: Iterable[Address], allowlist: Iterable[str]) -> str | None:
    """Why one of these (resolved) addresses may not be reached, or None: for a caller
    that resolves once and connects to the very address it checked (no DNS rebinding)."""
    networks = _networks(tuple(allowlist))
    for address in addresses:
        reason = forbidden(address)
        if reason and not any(address in net for net in networks):
            return (
                f"resolves to {address}, a {reason} address the farm does not reach "
                "(allow it with CAPSTAN_URL_ALLOWLIST)"
            )
    return None


def forbidden(address: Address) -> str | None:
    """Why a farm must not reach this address by default, or None."""
    if address in _METADATA:
        return "cloud metadata"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast or address.is_reserved or address.is_unspecified:
        return "reserved"
    if address.is_private:
        return "private"
    return None


def resolve(host: str) -> list[Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise UrlRefused(f"host {host} does not resolve ({exc.strerror})") from exc
    return sorted({ipaddress.ip_address(info[4][0]) for info in infos}, key=str)


@lru_cache(maxsize=8)
def _networks(allowlist: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in allowlist)


def final_url(
    url: str, allowlist: Iterable[str], schemes: frozenset[str] = WEB, *, timeout_s: float = 10.0
) -> str:
    """Follow ``url``'s redirects (at most MAX_REDIRECTS), checking every hop against the
    policy, and return where they end: a tool that follows redirects itself (ffmpeg)
    is then given a URL already known to be allowed."""
    import requests

    check(url, allowlist, schemes)
    for _ in range(MAX_REDIRECTS):
        try:
            with requests.get(
                url, allow_redirects=False, stream=True, timeout=timeout_s,
                headers={"Range": "bytes=0-0"},
            ) as response:  # fmt: skip
                location = response.headers.get("Location")
                if not response.is_redirect or not location:
                    return url
        except requests.RequestException:
            return url  # unreachable: the tool that opens it says why
        url = urljoin(url, location)
        try:
            check(url, allowlist, schemes)
        except UrlRefused as exc:
            raise UrlRefused(f"redirects to {url}, which {exc}") from None
    raise UrlRefused(f"redirects more than {MAX_REDIRECTS} times")
