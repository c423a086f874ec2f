"""Field types for the API's models: one definition gives the validation, the
problem+json message and the JSON Schema the OpenAPI document states.

- :func:`Integer`: a JSON number that JSON Schema calls an integer (``207.0`` is
  207, ``-0`` is 0; booleans are not numbers), within bounds.
- :func:`QueryInteger`: the same, spelled in a query string (ASCII digits only).
- :func:`Text`: a string without NUL, trimmed or not, within a length.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from app.inputs import MAX_BIGINT, IntegerOutOfRange, NotAnInteger, parse_integer


class HugeInteger:
    """An integer literal too long for any column, kept as its text (never converted;
    Python refuses to convert more than 4,300 digits anyway)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _whole_number() -> PydanticCustomError:
    return PydanticCustomError("whole_number", "must be a whole number")


def _out_of_range(minimum: int, maximum: int) -> PydanticCustomError:
    return PydanticCustomError(
        "integer_range",
        "must be between {minimum} and {maximum}",
        {"minimum": minimum, "maximum": maximum},
    )


def Integer(minimum: int, maximum: int, *, description: str | None = None) -> Any:
    """A JSON integer in ``[minimum, maximum]``."""

    def check(value: Any) -> int:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        elif isinstance(value, HugeInteger) or (isinstance(value, float) and math.isinf(value)):
            raise _out_of_range(minimum, maximum)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _whole_number()
        if not minimum <= value <= maximum:
            raise _out_of_range(minimum, maximum)
        return value

    return Annotated[
        int, Field(ge=minimum, le=maximum, description=description), BeforeValidator(check)
    ]


def QueryInteger(minimum: int, maximum: int, *, description: str | None = None) -> Any:
    """An integer in a query string: ASCII digits (and a minus), in range."""

    def check(value: Any) -> int:
        try:
            number = parse_integer(value)
        except NotAnInteger:
            raise PydanticCustomError(
                "whole_number", "must be a whole number (ASCII digits)"
            ) from None
        except IntegerOutOfRange:
            raise _out_of_range(minimum, maximum) from None
        if not minimum <= number <= maximum:
            raise _out_of_range(minimum, maximum)
        return number

    return Annotated[
        int, Field(ge=minimum, le=maximum, description=description), BeforeValidator(check)
    ]


# Text without NUL (PostgreSQL refuses it in text), and with at least one character
# that is not white space when it must not be empty once trimmed.
NO_NUL = r"^[^\u0000]*$"
NOT_BLANK = r"^[^\u0000]*[^\u0000\s][^\u0000]*$"


def Text(
    min_length: int,
    max_length: int,
    *,
    strip: bool = True,
    pattern: str | None = None,
    description: str | None = None,
) -> Any:
    """A string of ``min_length`` to ``max_length`` characters without NUL; with
    ``strip``, leading and trailing white space is dropped (the length limit applies
    to the string as sent, and a non-empty field must not be blank)."""
    blank_allowed = min_length == 0 or not strip

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise PydanticCustomError("string_type", "must be a string")
        if "\x00" in value:
            raise PydanticCustomError("nul", "must not contain NUL characters")
        try:
            value.encode()
        except UnicodeEncodeError:
            raise PydanticCustomError("unicode", "must be valid Unicode text") from None
        kept = value.strip() if strip else value
        if not (min_length <= len(value) <= max_length and len(kept) >= min_length):
            raise PydanticCustomError(
                "text_length",
                "must have {min_length} to {max_length} characters"
                + ("" if blank_allowed else ", not all blank"),
                {"min_length": min_length, "max_length": max_length},
            )
        return kept

    return Annotated[
        str,
        Field(
            min_length=min_length,
            max_length=max_length,
            pattern=pattern or (NO_NUL if blank_allowed else NOT_BLANK),
            description=description,
        ),
        BeforeValidator(check),
    ]


ID = Integer(1, MAX_BIGINT, description="A row id.")


def described_as(schema: dict) -> Any:
    """Annotation: document a field with ``schema`` (its validator decides the rest)."""
    return WithJsonSchema(schema)
