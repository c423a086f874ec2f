"""Request validation for the JSON API: every problem found, each with its field.

Hand-written on purpose: a few rules, exact messages, and no value reaches SQL
before it has passed them.
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask import request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from app.numbers import MAX_BIGINT, MAX_INT, NotAnInteger, parse_integer

__all__ = ["MAX_BIGINT", "MAX_INT", "Errors", "ValidationFailed", "json_object", "query_integer"]
# An integer literal longer than this is out of range for every column: it is kept
# as its text (never converted; Python refuses more than 4,300 digits anyway).
_MAX_LITERAL_DIGITS = 40


class ValidationFailed(Exception):
    """The request is well-formed JSON but its content is not acceptable (422)."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


class Errors:
    """Collects field errors so the client learns about all of them at once."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field: str, message: str) -> None:
        """Record a problem with ``field``."""
        self.items.append({"field": field, "message": message})

    def raise_if_any(self) -> None:
        """Raise :class:`ValidationFailed` if anything was recorded."""
        if self.items:
            raise ValidationFailed(self.items)

    def integer(self, value: Any, field: str, *, minimum: int, maximum: int) -> int | None:
        """``value`` if it is a whole number in range, as JSON Schema counts integers:
        ``207.0`` is 207 and ``-0`` is 0 (booleans are not numbers here)."""
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if isinstance(value, HugeInteger) or (isinstance(value, float) and math.isinf(value)):
            self.add(field, f"must be between {minimum} and {maximum}")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(field, "must be a whole number")
            return None
        if not minimum <= value <= maximum:
            self.add(field, f"must be between {minimum} and {maximum}")
            return None
        return value

    def string(self, value: Any, field: str, *, min_length: int, max_length: int) -> str | None:
        """``value`` stripped, if it is a string of acceptable length without NUL."""
        if not isinstance(value, str):
            self.add(field, "must be a string")
            return None
        value = value.strip()
        if "\x00" in value:
            self.add(field, "must not contain NUL characters")
            return None
        if not min_length <= len(value) <= max_length:
            self.add(field, f"must have {min_length} to {max_length} characters")
            return None
        return value

    def unknown_fields(self, payload: dict, allowed: set[str], prefix: str = "") -> None:
        """Reject fields the endpoint does not define (typos must not pass silently)."""
        for name in sorted(set(payload) - allowed):
            self.add(f"{prefix}{name}", "is not a known field")


class HugeInteger:
    """An integer too long for any column, kept as its text (never converted)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _integer_literal(text: str) -> int | HugeInteger:
    return int(text) if len(text) <= _MAX_LITERAL_DIGITS else HugeInteger(text)


def _not_json(name: str):
    # Python's json module accepts NaN and Infinity; JSON does not.
    raise ValueError(f"{name} is not JSON")


def json_object() -> dict:
    """The request body as a JSON object, or a 415/400/422 error."""
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as application/json.")
    try:
        payload = json.loads(
            request.get_data(cache=True),
            parse_int=_integer_literal,
            parse_constant=_not_json,
        )
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The body is not valid JSON.") from None
    except RecursionError:
        # json.loads recurses per nesting level; a small body can nest deep enough.
        raise BadRequest("The body's JSON is nested too deeply.") from None
    if not isinstance(payload, dict):
        raise ValidationFailed([{"field": "(body)", "message": "must be a JSON object"}])
    return payload


def query_integer(name: str, default: int, *, minimum: int, maximum: int) -> int:
    """An integer query parameter, or 422."""
    raw = request.args.get(name)
    if raw is None:
        return default
    errors = Errors()
    try:
        value: int | HugeInteger = parse_integer(raw)
    except NotAnInteger:
        errors.add(name, "must be a whole number (ASCII digits)")
        errors.raise_if_any()
    except ValueError:
        value = HugeInteger(raw)
    result = errors.integer(value, name, minimum=minimum, maximum=maximum)
    errors.raise_if_any()
    return result
