"""Local storage: the default output, served by the dispatcher."""

import pytest

from workers.common.delivery.storage import LocalStorage


def test_put_get_url_keys_delete(tmp_path):
    source = tmp_path / "a.mp4"
    source.write_bytes(b"x" * 10)
    storage = LocalStorage(tmp_path / "root", "http://127.0.0.1:8080/")
    storage.put(source, "task/rec file.mp4")
    assert storage.keys("task") == ["task/rec file.mp4"]
    assert storage.url("task/rec file.mp4") == "http://127.0.0.1:8080/files/task/rec%20file.mp4"
    storage.get("task/rec file.mp4", tmp_path / "back.mp4")
    assert (tmp_path / "back.mp4").read_bytes() == b"x" * 10
    storage.delete("task/rec file.mp4")
    assert storage.keys("task") == []


def test_a_key_cannot_escape_the_root(tmp_path):
    storage = LocalStorage(tmp_path / "root")
    with pytest.raises(ValueError, match="escapes"):
        storage.put(tmp_path / "x", "../outside")
