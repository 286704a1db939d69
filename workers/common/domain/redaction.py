"""How a secret looks in anything shown: logs, messages, Describe, failures.

The one home of ``***`` and of hiding secrets in text: a process's log lines
(media/process.py), a room URL (rooms.redact), a live output's URL (the panorama relay)
and the pusher's failure messages all hide through here, so a secret in one place can
not be shown in another's form.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

HIDDEN = "***"


def secret_forms(secrets: Iterable[str]) -> list[str]:
    """Each secret as given and percent-encoded (as it sits in a URL), longest first, so
    that a secret containing another is hidden whole."""
    forms = {form for secret in secrets if secret for form in (secret, quote(secret, safe=""))}
    return sorted(forms, key=len, reverse=True)


def hide(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each secret (raw or percent-encoded) replaced by ``***``."""
    for form in secret_forms(secrets):
        text = text.replace(form, HIDDEN)
    return text
