"""One catalogue of error codes (workers.common.domain.errors): every code has an entry, every
raise site names a catalogued code, and the README's tables are the catalogue's."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from workers.common.domain.errors import (
    CATALOGUE,
    HTTP_STATUS,
    AuthFailure,
    CapstanError,
    Code,
    Fault,
    InvalidParam,
    InvalidState,
    LimitExceeded,
    PayloadTooLarge,
    ServiceUnavailable,
    TaskNotFound,
    UserFault,
)

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = ("workers", "dispatcher", "config", "deploy", "cli")
# The exceptions and the end of capture that carry a Result.ErrorCode, with the position
# of their code argument.
CODE_ARGUMENT = {"UserFault": 1, "FarmFault": 1, "TaskFailure": 1, "EndReason": 1}
FAULT_OF_CLASS = {"UserFault": {Fault.USER, Fault.EITHER}, "FarmFault": {Fault.FARM, Fault.EITHER}}


def production_trees() -> list[tuple[Path, ast.Module]]:
    paths = [path for top in PRODUCTION for path in sorted((ROOT / top).rglob("*.py"))]
    return [(path, ast.parse(path.read_text())) for path in paths]


def code_argument(call: ast.Call, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg in ("code", "error_code"):
            return keyword.value
    position = CODE_ARGUMENT[name]
    return call.args[position] if len(call.args) > position else None


def raise_sites() -> list[tuple[str, str, ast.expr | None]]:
    """(where, class, code argument) of every construction of a code-carrying class."""
    sites = []
    for path, tree in production_trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if name in CODE_ARGUMENT:
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    sites.append((where, name, code_argument(node, name)))
    return sites


def named_code(node: ast.expr | None) -> Code | None:
    """The Code member ``node`` names (``Code.X``), else None."""
    if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)):
        return None
    return Code[node.attr] if node.value.id == "Code" else None


def codes_named_in_production() -> set[Code | None]:
    named: set[Code | None] = set()
    for path, tree in production_trees():
        if path.name == "errors.py":
            continue  # the catalogue itself
        named |= {named_code(node) for node in ast.walk(tree) if isinstance(node, ast.expr)}
    named.discard(None)
    return named


# ---- the catalogue -------------------------------------------------------------------------


def test_every_code_has_an_entry_with_a_meaning():
    assert set(CATALOGUE) == set(Code)
    assert all(entry.meaning.strip() for entry in CATALOGUE.values())


def test_every_code_is_an_answer_or_a_result_or_both():
    assert all(entry.http_status or entry.in_result for entry in CATALOGUE.values())


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidParam, 400),
        (AuthFailure, 401),
        (TaskNotFound, 404),
        (InvalidState, 409),
        (PayloadTooLarge, 413),
        (LimitExceeded, 429),
        (ServiceUnavailable, 503),
        (CapstanError, 500),
    ],
)
def test_each_request_error_answers_its_catalogued_status(error, status):
    assert error("x").http_status == status == HTTP_STATUS[error.code]


def test_a_task_failure_answers_500_if_it_ever_reaches_a_request():
    assert UserFault("x", Code.SOURCE_UNAVAILABLE).http_status == 500


def test_a_code_is_its_wire_string():
    failure = UserFault("x", Code.PAGE_LOAD_FAILED)
    assert failure.code == "PageLoadFailed"
    assert f"finished with {failure.code}" == "finished with PageLoadFailed"


# ---- the raise sites -----------------------------------------------------------------------


def test_every_raise_site_names_a_catalogued_code_not_a_string():
    sites = raise_sites()
    assert len(sites) > 30, "the scan found too few raise sites: did the tree move?"
    literal = [where for where, _, code in sites if code is not None and not named_code(code)]
    assert not literal, f"codes as strings or other constants, not Code.X: {literal}"


def test_user_and_farm_faults_agree_with_the_catalogue():
    wrong = [
        f"{where}: {name}({code})"
        for where, name, node in raise_sites()
        if name in FAULT_OF_CLASS
        and (code := named_code(node)) is not None
        and CATALOGUE[code].fault not in FAULT_OF_CLASS[name]
    ]
    assert not wrong, f"the catalogue says the other side is at fault: {wrong}"


def test_every_result_code_is_raised_somewhere():
    results = {code for code, entry in CATALOGUE.items() if entry.in_result}
    unused = results - codes_named_in_production()
    assert not unused, f"catalogued Result codes nothing produces: {sorted(unused)}"


# ---- the README ----------------------------------------------------------------------------


def answers_table() -> str:
    rows = ["| ErrorCode | HTTP | at fault | when |", "| --- | --- | --- | --- |"]
    for code, entry in CATALOGUE.items():
        if entry.http_status:
            rows.append(f"| {code} | {entry.http_status} | {entry.fault} | {entry.meaning} |")
    return "\n".join(rows)


def results_table() -> str:
    rows = ["| Result.ErrorCode | at fault | when |", "| --- | --- | --- |"]
    for code, entry in CATALOGUE.items():
        if entry.in_result:
            rows.append(f"| {code} | {entry.fault} | {entry.meaning} |")
    return "\n".join(rows)


@pytest.mark.parametrize("table", [answers_table, results_table], ids=["answers", "results"])
def test_the_readme_tables_are_the_catalogue(table):
    readme = (ROOT / "README.md").read_text()
    expected = table()
    assert expected in readme, f"README.md's error table drifted; it should read:\n\n{expected}"
