"""Shared test helpers: real servers on free ports, media checks. Fixtures: tests/conftest.py."""
