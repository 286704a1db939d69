"""Where the dispatcher is and how to sign: flags first, then the environment, then defaults.

The CLI is a client of the farm, possibly on another machine: it reads its own variables
(CAPSTAN_CLI_*), never the farm's settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_URL = "http://127.0.0.1:8080"
ENV_URL = "CAPSTAN_CLI_URL"
ENV_KEY = "CAPSTAN_CLI_KEY"
ENV_SECRET = "CAPSTAN_CLI_SECRET"  # noqa: S105 -- a variable name


class ConfigError(Exception):
    """The CLI's own configuration is incomplete (e.g. a key without its secret)."""


@dataclass(frozen=True)
class Config:
    url: str = DEFAULT_URL
    key: str = ""
    secret: str = ""

    @property
    def signs(self) -> bool:
        return bool(self.key)


def resolve(
    env: Mapping[str, str],
    url: str | None = None,
    key: str | None = None,
    secret: str | None = None,
) -> Config:
    """The configuration from the flags given (None: not given) and the environment."""
    chosen_url = url or env.get(ENV_URL) or DEFAULT_URL
    chosen_key = key if key is not None else env.get(ENV_KEY, "")
    chosen_secret = secret if secret is not None else env.get(ENV_SECRET, "")
    if "://" not in chosen_url:
        chosen_url = f"http://{chosen_url}"
    if bool(chosen_key) != bool(chosen_secret):
        missing = "--secret / " + ENV_SECRET if chosen_key else "--key / " + ENV_KEY
        raise ConfigError(f"a signing key needs both a key and a secret: {missing} missing")
    return Config(chosen_url.rstrip("/"), chosen_key, chosen_secret)
