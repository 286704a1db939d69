"""schemathesis fuzzes the OpenAPI spec against the running dispatcher (dispatcher/serve.py):
zero 5xx, and every response matches the spec (status codes, content types, bodies),
strictly: the answer schemas, generated from the models that build the answers, allow
no field they do not name.

Bounded: at most MAX_EXAMPLES cases per operation and MAX_TIME_S for the whole run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.tools import require

pytestmark = pytest.mark.integration

MAX_EXAMPLES = 50
MAX_TIME_S = 40
ANSWERS = ("Accepted", "Error", "Health", "Task", "TaskList", "TaskResult", "VideoFile")
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
]


def test_fuzzing_the_spec_finds_no_5xx_and_no_answer_outside_it(farm_process, tmp_path):
    require("python:schemathesis")
    dispatcher = farm_process("dispatcher")
    spec = requests.get(f"{dispatcher.url}/openapi.json", timeout=10).json()
    for name in ANSWERS:  # what makes response_schema_conformance strict
        assert spec["components"]["schemas"][name]["additionalProperties"] is False, name
    report = tmp_path / "fuzz.ndjson"
    cli = Path(sys.executable).parent / "schemathesis"
    argv = [str(cli), "run", f"{dispatcher.url}/openapi.json",
            "--checks", ",".join(CHECKS),
            "--max-examples", str(MAX_EXAMPLES), "--max-time", str(MAX_TIME_S),
            "--phases", "examples,coverage,fuzzing",
            "--request-timeout", "20", "--workers", "2", "--seed", "6",
            "--suppress-health-check", "all", "--no-color",
            "--report", "ndjson", "--report-ndjson-path", str(report)]  # fmt: skip
    timeout = MAX_TIME_S + 120
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    summary = done.stdout[-6000:]
    assert done.returncode == 0, summary
    assert " passed" in summary and " failed" not in summary, summary
