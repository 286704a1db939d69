"""Holding the dispatcher's answers to its own OpenAPI document, strictly: the answer
schemas are generated from the models that build the answers and allow no other field."""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from dispatcher.openapi import document


@cache
def validator(schema_name: str) -> Draft202012Validator:
    # The document's components travel along, so that its "#/components/..." refs resolve.
    schema = {
        "$ref": f"#/components/schemas/{schema_name}",
        "components": document()["components"],
    }
    return Draft202012Validator(schema)


def assert_conforms(body: Any, schema_name: str) -> None:
    """``body`` is a valid ``schema_name`` of the spec; the message lists every mismatch."""
    problems = [
        f"{'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}"
        for error in validator(schema_name).iter_errors(body)
    ]
    assert not problems, f"answer is not a {schema_name}: {problems}\n{body}"
