"""Secrets are split from a spec before it is stored, and joined back for the worker."""

from pydantic import BaseModel, SecretStr

from workers.common.domain.specs.base import Spec, join_secrets, rebuild, split_secrets


class Inner(BaseModel):
    Bucket: str
    SecretKey: SecretStr | None = None


class Outer(Spec):
    Url: str
    Token: SecretStr
    Cos: Inner | None = None


def test_split_removes_every_secret_and_rebuild_restores_them():
    spec = Outer(Url="http://x", Token="t0k", Cos={"Bucket": "b", "SecretKey": "k3y"})
    public, secrets = split_secrets(spec)
    assert public == {"Url": "http://x", "Cos": {"Bucket": "b"}}
    assert secrets == {"Token": "t0k", "Cos": {"SecretKey": "k3y"}}
    again = rebuild(Outer, public, secrets)
    assert again.Token.get_secret_value() == "t0k"
    assert again.Cos.SecretKey.get_secret_value() == "k3y"


def test_join_without_secrets_is_the_public_part():
    assert join_secrets({"a": 1}, {}) == {"a": 1}
