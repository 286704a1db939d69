"""Secrets at rest: the secret fields of a spec are kept Fernet-encrypted in the record."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from config.settings import get_settings


def _key_from_file(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    key = Fernet.generate_key()
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key


@lru_cache(maxsize=1)
def _fernet() -> Fernet:
    settings = get_settings()
    key = settings.secret_key.encode() if settings.secret_key else None
    return Fernet(key or _key_from_file(settings.data_dir / "secret.key"))


def seal(secrets: dict[str, Any]) -> str:
    if not secrets:
        return ""
    return _fernet().encrypt(json.dumps(secrets).encode()).decode()


def unseal(token: str) -> dict[str, Any]:
    if not token:
        return {}
    data: dict[str, Any] = json.loads(_fernet().decrypt(token.encode()))
    return data


def forget_key() -> None:
    _fernet.cache_clear()
