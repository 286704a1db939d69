"""What every Start spec shares, and how its secrets are kept apart."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, SecretStr

SpecT = TypeVar("SpecT", bound="Spec")


class Spec(BaseModel):
    """Base of the Start models. Unknown fields are ignored (clients of the hosted services
    send more than we read); secrets are ``SecretStr`` and never leave the record unsealed."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


def split_secrets(spec: Spec) -> tuple[dict[str, Any], dict[str, Any]]:
    """The spec as a JSON-able dict without secrets, and the secrets in the same shape."""
    dumped = spec.model_dump(by_alias=True, exclude_none=True)
    secrets: dict[str, Any] = {}
    _move_secrets(dumped, secrets)
    return dumped, secrets


def _move_secrets(public: dict[str, Any], secrets: dict[str, Any]) -> None:
    for name, value in list(public.items()):
        if isinstance(value, SecretStr):
            secrets[name] = value.get_secret_value()
            del public[name]
        elif isinstance(value, dict):
            inner: dict[str, Any] = {}
            _move_secrets(value, inner)
            if inner:
                secrets[name] = inner
        elif isinstance(value, (list, tuple)) and any(isinstance(v, dict) for v in value):
            # A list of objects (LiveOutputs): the secrets as a list of the same length.
            items: list[dict[str, Any]] = [{} for _ in value]
            for item, inner_item in zip(value, items, strict=True):
                if isinstance(item, dict):
                    _move_secrets(item, inner_item)
            public[name] = list(value)
            if any(items):
                secrets[name] = items


def join_secrets(public: dict[str, Any], secrets: dict[str, Any]) -> dict[str, Any]:
    merged = dict(public)
    for name, value in secrets.items():
        if isinstance(value, dict):
            merged[name] = join_secrets(merged.get(name) or {}, value)
        elif isinstance(value, list) and isinstance(merged.get(name), list):
            items = merged[name]
            extras = [*value, *([{}] * len(items))][: len(items)]
            merged[name] = [
                join_secrets(item, extra) if isinstance(item, dict) else item
                for item, extra in zip(items, extras, strict=True)
            ]
        else:
            merged[name] = value
    return merged


def rebuild(model: type[SpecT], public: dict[str, Any], secrets: dict[str, Any]) -> SpecT:
    return model.model_validate(join_secrets(public, secrets))
