"""The Farm of the running app (built once by create_app)."""

from __future__ import annotations

from flask import current_app

from dispatcher.actions import Farm


def farm() -> Farm:
    found: Farm = current_app.extensions["capstan"]
    return found
