"""The chaos run's report: per scenario, media seconds lost and whether the output was one
playable file, printed as a JSON table at the end of the run (`make chaos`).

A scenario records its figures with the ``chaos_figures`` fixture:

    chaos_figures("recorder SIGKILL", media_seconds_lost=1.2, one_playable_file=True, ...)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

FIGURES: list[dict[str, Any]] = []


@pytest.fixture
def chaos_figures() -> Callable[..., None]:
    def record(
        scenario: str, *, media_seconds_lost: float | None, one_playable_file: bool | None, **extra
    ) -> None:
        lost = None if media_seconds_lost is None else round(max(media_seconds_lost, 0.0), 2)
        FIGURES.append(
            {
                "scenario": scenario,
                "media_seconds_lost": lost,
                "one_playable_file": one_playable_file,
                **{k: round(v, 2) if isinstance(v, float) else v for k, v in extra.items()},
            }
        )

    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("chaos: media lost per scenario")
    terminalreporter.write_line(json.dumps(FIGURES, indent=1))
