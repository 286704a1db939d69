"""Field types shared by the Start models, and the one converter from pydantic's
ValidationError to the seeds' InvalidParam message ("RecordURL missing",
"Width must be between 0 and 2560", "Output.Cos.Bucket must be a string").

Range and format checks raise ``ValueError`` with a message such as "must be ...", which
the converter prefixes with the field's dotted path;
or, from a model validator, ``sub_error(field, detail)`` about one of the model's fields
("AuthUrl", "missing: ..."), which the converter names by the model's path and a dot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    SecretStr,
    ValidationError,
)
from pydantic_core import PydanticCustomError, core_schema

from workers.common.domain.errors import InvalidParam

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_ERRORS = 3
_TYPE_NAMES = {
    "string": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "model": "an object",
    "dict": "an object",
    "list": "a list",
    "literal": "one of",
}


def parse(model: type[ModelT], data: Any) -> ModelT:
    """``model`` validated from ``data``, or InvalidParam naming the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_param(exc) from None


def invalid_param(exc: ValidationError) -> InvalidParam:
    messages: list[str] = []
    for error in exc.errors(include_url=False):
        message = error_message(error)
        if message not in messages:
            messages.append(message)
        if len(messages) >= MAX_ERRORS:
            break
    return InvalidParam("; ".join(messages) or "invalid request")


def error_message(error: Any) -> str:
    kind: str = error["type"]
    path = dotted(error["loc"])
    if not path and kind not in ("value_error", "assertion_error"):
        path = "Data"
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return f"{path} missing"
    if kind in ("value_error", "assertion_error"):
        return _join(path, str(ctx.get("error", error["msg"])))
    if kind == SUB_ERROR:
        field = ".".join(p for p in (path, str(ctx["field"])) if p)
        return f"{field} {ctx['detail']}"
    if kind == "literal_error":
        allowed = ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
        return f"{path} must be one of {allowed}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return f"{path} is out of range ({error['msg'].lower()})"
    if kind in ("string_too_short", "string_too_long"):
        return f"{path} {error['msg'].lower().removeprefix('string ')}"
    if kind.endswith(("_type", "_parsing")):
        name = kind.split("_", maxsplit=1)[0]
        return f"{path} must be {_TYPE_NAMES.get(name, name)}"
    return _join(path, error["msg"])


def dotted(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def _join(path: str, message: str) -> str:
    message = message.removeprefix("Value error, ")
    return f"{path} {message}" if path else message


SUB_ERROR = "capstan_field"


def sub_error(field: str, detail: str) -> PydanticCustomError:
    """Raised by a model validator about one of its fields: "Video.AuthUrl missing: ..."."""
    return PydanticCustomError(SUB_ERROR, "{field} {detail}", {"field": field, "detail": detail})


# ---- field types ---------------------------------------------------------------------


@dataclass(frozen=True)
class Between:
    """The seeds' ranges with the seeds' wording ("Width must be between 0 and 2560"),
    and ``minimum``/``maximum`` in the JSON schema."""

    low: float
    high: float | None = None

    def check(self, value: Any) -> Any:
        if self.high is None and value < self.low:
            raise ValueError(f"must be at least {_num(self.low)}")
        if self.high is not None and not self.low <= value <= self.high:
            raise ValueError(f"must be between {_num(self.low)} and {_num(self.high)}")
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        json_schema: dict[str, Any] = handler(schema)
        json_schema["minimum"] = self.low
        if self.high is not None:
            json_schema["maximum"] = self.high
        return json_schema


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _no_bool_int(value: Any) -> Any:
    # JSON true is not the number 1 here.
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    return value


def _no_bool_number(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number")
    return value


def _int_to_str(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _empty_to_none(value: Any) -> Any:
    return None if value == "" else value


def _http_url(value: str) -> str:
    return check_url(value, ("http", "https"))


def check_url(value: str, schemes: tuple[str, ...]) -> str:
    value = value.strip()
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises on a bad port
    except ValueError as exc:
        raise ValueError(f"is not a valid URL ({exc})") from None
    if parts.scheme.lower() not in schemes or not parts.hostname:
        names = ", ".join(schemes[:-1]) + " or " + schemes[-1] if len(schemes) > 1 else schemes[0]
        raise ValueError(f"must be an {names} URL")
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValueError("must not contain spaces or control characters")
    if len(value) > 4096:
        raise ValueError("is too long (at most 4096 characters)")
    return value


def safe_path(value: str) -> str:
    """A path inside a bucket or directory: no '..' component, no control characters."""
    if any(ord(ch) < 32 for ch in value) or "\\" in value:
        raise ValueError("must not contain control characters or backslashes")
    if ".." in value.split("/"):
        raise ValueError("must not contain '..'")
    if len(value) > 1024:
        raise ValueError("is too long (at most 1024 characters)")
    return value


def pattern(regex: str, what: str) -> AfterValidator:
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"must be {what}")
        return value

    return AfterValidator(check)


def _secret_not_empty(value: SecretStr) -> SecretStr:
    if not value.get_secret_value():
        raise ValueError("must not be empty")
    return value


Int = Annotated[int, BeforeValidator(_no_bool_int)]
Number = Annotated[float, BeforeValidator(_no_bool_number)]
HttpURL = Annotated[str, AfterValidator(_http_url)]
IdString = Annotated[str, BeforeValidator(_int_to_str)]
OptionalText = Annotated[str | None, BeforeValidator(_empty_to_none)]
SafePath = Annotated[str, AfterValidator(safe_path)]
Secret = Annotated[SecretStr, AfterValidator(_secret_not_empty)]
OptionalSecret = Annotated[SecretStr | None, BeforeValidator(_empty_to_none)]
