"""Secrets at rest: the secret fields of a spec are kept Fernet-encrypted in the record.

The key is CAPSTAN_SECRET_KEY, the same on every machine of the farm. It may list several
Fernet keys, comma-separated: the first seals, every one opens (key rotation). A farm on
loopback may leave it empty: then one machine makes its own key file in data_dir.
The same keys sign the dispatcher's file links (workers.common.delivery.filelinks).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from config.settings import get_settings
from workers.common.domain.errors import Code, TaskFailure


class SecretsUnreadable(TaskFailure):
    """A record's secrets were sealed with a key this machine does not have."""

    code = Code.SECRETS_UNREADABLE

    def __init__(self) -> None:
        super().__init__(
            "the task's secrets cannot be opened with this machine's CAPSTAN_SECRET_KEY: "
            "give every dispatcher and worker the same CAPSTAN_SECRET_KEY (after a rotation, "
            "keep the old key after the new one, comma-separated)"
        )


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
def _keys() -> list[bytes]:
    settings = get_settings()
    keys = [key.encode() for key in settings.secret_keys]
    return keys or [_key_from_file(settings.data_dir / "secret.key")]


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in _keys()])


def seal(secrets: dict[str, Any]) -> str:
    if not secrets:
        return ""
    return _fernet().encrypt(json.dumps(secrets).encode()).decode()


def unseal(token: str) -> dict[str, Any]:
    """The secrets of a record; SecretsUnreadable when no key of this machine opens them."""
    if not token:
        return {}
    try:
        data: dict[str, Any] = json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken:
        raise SecretsUnreadable() from None
    return data


def sign(text: str) -> str:
    """A short signature of ``text`` (a file link), made with the first key."""
    return _signature(_keys()[0], text)


def signed(text: str, signature: str) -> bool:
    """Whether any key of the farm (a rotated-out one too) made ``signature``."""
    given = signature.encode()  # bytes: compare_digest refuses non-ASCII str
    return any(hmac.compare_digest(_signature(key, text).encode(), given) for key in _keys())


def _signature(key: bytes, text: str) -> str:
    # Domain-separated from the Fernet use of the same key.
    digest = hmac.new(key, b"capstan-link\0" + text.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def forget_key() -> None:
    _keys.cache_clear()
    _fernet.cache_clear()
