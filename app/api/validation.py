"""Reading requests into the API's models: the JSON body (strictly), the query
string and headers; every problem found is reported at once, with its field.

The rules themselves live in the models (pydantic) and their field types
(:mod:`app.api.fields`); this turns pydantic's errors into the problem+json
``errors`` list: ``{"field": "lines[0].quantity", "message": "..."}``.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from app.api.fields import HugeInteger
from app.errors import ProblemError

M = TypeVar("M", bound=BaseModel)

# An integer literal longer than this is out of range for every column: it is kept
# as its text, never converted.
_MAX_LITERAL_DIGITS = 40

# Pydantic's own error types, in this API's words.
_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
    "list_type": "must be a list",
    "string_type": "must be a string",
}


class ValidationFailed(ProblemError):
    """The request is well-formed but its content is not acceptable (422)."""

    status = 422
    problem_type = "validation"
    title = "Validation failed"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors

    def problem_detail(self) -> str:
        return "The request has invalid fields."

    def problem_fields(self) -> dict:
        return {"errors": self.errors}


def field_name(location: tuple) -> str:
    """pydantic's ``("lines", 0, "quantity")`` as ``lines[0].quantity``."""
    name = ""
    for part in location:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "(body)"


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind == "literal_error":
        return f"must be one of: {error['ctx']['expected']}".replace("'", "")
    if kind == "too_short":
        return f"must have at least {error['ctx']['min_length']} item(s)"
    if kind == "too_long":
        return f"must have at most {error['ctx']['max_length']} item(s)"
    return error["msg"]


def validation_errors(error: ValidationError, prefix: tuple = ()) -> list[dict[str, str]]:
    """pydantic's errors as this API's ``errors`` list."""
    return [
        {"field": field_name((*prefix, *e["loc"])), "message": _message(e)}
        for e in error.errors(include_url=False)
    ]


def validate(model: type[M], data: Any, *, prefix: tuple = ()) -> M:
    """``data`` as ``model``, or :class:`ValidationFailed` listing every problem."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ValidationFailed(validation_errors(error, prefix)) from None


def _integer_literal(text: str) -> int | HugeInteger:
    return int(text) if len(text) <= _MAX_LITERAL_DIGITS else HugeInteger(text)


def _not_json(name: str):
    # Python's json module accepts NaN and Infinity; JSON does not.
    raise ValueError(f"{name} is not JSON")


def json_body() -> Any:
    """The request body parsed as JSON (415 if not sent as JSON, 400 if not JSON)."""
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as application/json.")
    try:
        return json.loads(
            request.get_data(cache=True),
            parse_int=_integer_literal,
            parse_constant=_not_json,
        )
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The body is not valid JSON.") from None
    except RecursionError:
        # json.loads recurses per nesting level; a small body can nest deep enough.
        raise BadRequest("The body's JSON is nested too deeply.") from None


def body_as(model: type[M]) -> M:
    """The JSON body validated as ``model``."""
    payload = json_body()
    if not isinstance(payload, dict):
        raise ValidationFailed([{"field": "(body)", "message": "must be a JSON object"}])
    return validate(model, payload)


def query_as(model: type[M]) -> M:
    """The query string validated as ``model`` (a repeated key: its first value)."""
    return validate(model, request.args.to_dict())
