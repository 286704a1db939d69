"""FileURL of S3 output works for a client without bucket keys: the dispatcher's signed
/files/s3/... link answers with a redirect to a fresh presigned URL (a real dispatcher and
moto's real S3 endpoint, plain `requests`), after a key rotation too."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from cryptography.fernet import Fernet

from config.settings import Settings
from workers.common.delivery.storage import S3Storage, default_output

pytestmark = pytest.mark.integration

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
BUCKET = "private-recordings"


@pytest.fixture
def farm_env(s3_server):
    """The farm's output is the bucket; links are signed with OLD (the key before rotation)."""
    s3_server.make_bucket(BUCKET)
    return {"CAPSTAN_STORAGE": "s3", "CAPSTAN_S3_BUCKET": BUCKET, "CAPSTAN_SECRET_KEY": OLD}


@pytest.fixture
def rotated_dispatcher(settings, farm_process):
    """A dispatcher whose key was rotated since the links were made: NEW seals, OLD still reads."""
    return farm_process("dispatcher", env={"CAPSTAN_SECRET_KEY": f"{NEW},{OLD}"})


def store_file(settings: Settings, tmp_path: Path, key: str, content: bytes) -> str:
    """What a worker does with an output file: put it, answer its URL."""
    local = tmp_path / Path(key).name
    local.write_bytes(content)
    storage = default_output(settings)
    assert isinstance(storage, S3Storage)
    storage.put(local, key)
    return storage.url(key)


def test_an_old_file_url_redirects_to_a_fresh_presigned_url(settings, rotated_dispatcher, tmp_path):
    # Given a recording in the bucket, and the FileURL a callback carried
    content = os.urandom(200_000)
    url = store_file(settings, tmp_path, "task-1/user_1700000000.mp4", content)
    assert url.startswith(f"{settings.public_url}/files/s3/")

    # When a client without bucket keys opens it, after the farm's key was rotated
    first = requests.get(url, allow_redirects=False, timeout=10)
    fetched = requests.get(url, timeout=10)

    # Then the dispatcher sends it to a presigned URL of the bucket, and the bytes are the file
    assert first.status_code == 302
    assert first.headers["Location"].startswith(f"{os.environ['CAPSTAN_S3_ENDPOINT_URL']}/")
    assert "Signature=" in first.headers["Location"]
    assert first.headers["Cache-Control"] == "no-store"
    assert fetched.status_code == 200
    assert fetched.content == content


def test_a_link_with_a_wrong_signature_or_another_key_is_not_found(
    settings, rotated_dispatcher, tmp_path
):
    url = store_file(settings, tmp_path, "task-2/a.mp4", b"a")
    store_file(settings, tmp_path, "task-2/b.mp4", b"b")
    signature = url.rsplit("?s=", 1)[1]
    for forged in (url.replace("a.mp4", "b.mp4"), url.replace(signature, "A" * len(signature))):
        assert requests.get(forged, allow_redirects=False, timeout=10).status_code == 404


def test_an_hls_playlist_plays_segment_by_segment_without_keys(
    settings, rotated_dispatcher, tmp_path
):
    # Given an HLS recording in the bucket: a playlist and its segments side by side
    parts = {f"rec{i}.ts": os.urandom(50_000) for i in range(2)}
    for name, content in parts.items():
        store_file(settings, tmp_path, f"task-3/{name}", content)
    listing = "".join(f"#EXTINF:2.0,\n{name}\n" for name in parts)
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n{listing}#EXT-X-ENDLIST\n"
    url = store_file(settings, tmp_path, "task-3/rec.m3u8", playlist.encode())

    # When a player loads the playlist and each segment it names, relative to the playlist
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/vnd.apple.mpegurl")
    names = [line for line in answer.text.splitlines() if line and not line.startswith("#")]

    # Then every segment comes back, byte for byte, in order
    assert len(names) == len(parts)
    fetched = [requests.get(urljoin(answer.url, name), timeout=10) for name in names]
    assert [f.content for f in fetched] == list(parts.values())
