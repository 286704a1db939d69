"""Links to S3 output that work for a client without bucket keys, for as long as the file.

FileURL is ``{public_url}/files/s3/{region}/{bucket}/{key}?s={signature}``: the dispatcher
checks the signature (CAPSTAN_SECRET_KEY, so any dispatcher of the farm) and answers with a
redirect to a presigned URL made at that moment, so a link in an old callback still works.
An HLS playlist is served by the dispatcher itself, its segment lines turned into such links
(a player resolves them against the playlist's URL, which a redirect would change).
"""

from __future__ import annotations

from urllib.parse import quote

from workers.common.domain import crypto

PREFIX = "/files/s3"


def _subject(region: str, bucket: str, key: str) -> str:
    return f"{region}/{bucket}/{key}"


def link(base_url: str, region: str, bucket: str, key: str) -> str:
    signature = crypto.sign(_subject(region, bucket, key))
    path = f"{PREFIX}/{quote(region)}/{quote(bucket)}/{quote(key)}"
    return f"{base_url.rstrip('/')}{path}?s={signature}"


def valid(region: str, bucket: str, key: str, signature: str) -> bool:
    return crypto.signed(_subject(region, bucket, key), signature)


def playlist(text: str, region: str, bucket: str, key: str) -> str:
    """An HLS playlist whose relative segment URIs carry their own signatures."""
    directory = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    lines = []
    for line in text.splitlines():
        relative = line and not line.startswith(("#", "/")) and "://" not in line
        signature = crypto.sign(_subject(region, bucket, directory + line)) if relative else ""
        lines.append(f"{quote(line)}?s={signature}" if relative else line)
    return "\n".join(lines) + "\n"
