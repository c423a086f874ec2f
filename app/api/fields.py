"""Field types for the API's models: one definition gives the validation, the
problem+json message and the JSON Schema the OpenAPI document states.

- :func:`Integer`: a JSON number that JSON Schema calls an integer (``207.0`` is
  207, ``-0`` is 0; booleans are not numbers), within bounds.
- :func:`QueryInteger`: the same, spelled in a query string (ASCII digits only).
- :func:`Text`: a string without NUL, trimmed or not, within a length.

Each gives the metadata of an ``Annotated`` type: ``Annotated[int, Integer(1, 10)]``.
A field that may be left out is ``Annotated[int | None, Integer(1, 10)] = None``:
its attribute is None when the field is not sent, while JSON null is refused. Keep
the None inside ``Annotated`` (``Annotated[int, Integer(1, 10)] | None`` would
accept null).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from annotated_types import GroupedMetadata
from pydantic import BeforeValidator, Field
from pydantic.fields import FieldInfo
from pydantic.json_schema import JsonDict
from pydantic_core import PydanticCustomError

from app.inputs import MAX_BIGINT, IntegerOutOfRange, NotAnInteger, parse_integer


class HugeInteger:
    """An integer literal too long for any column, kept as its text (never converted;
    Python refuses to convert more than 4,300 digits anyway)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _null_refused(schema: JsonDict) -> None:
    """The JSON Schema of ``Annotated[X | None, ...]`` as that of ``X``: the check
    refuses null, None only stands for a field not sent."""
    choices = schema.get("anyOf")
    if isinstance(choices, list) and {"type": "null"} in choices:
        others = [choice for choice in choices if choice != {"type": "null"}]
        if len(others) == 1 and isinstance(others[0], dict):
            del schema["anyOf"]
            schema.update(others[0])


@dataclass(frozen=True)
class Checked(GroupedMetadata):
    """A field type's rules, applied together by pydantic: ``check`` first, on the
    value as sent (it gives this API's error messages), then ``constraints``, which
    also state the rules in the JSON Schema."""

    constraints: FieldInfo
    check: Callable[[Any], Any]

    def __iter__(self) -> Iterator[object]:
        yield self.constraints
        yield BeforeValidator(self.check)


def _whole_number() -> PydanticCustomError:
    return PydanticCustomError("whole_number", "must be a whole number")


def _out_of_range(minimum: int, maximum: int) -> PydanticCustomError:
    return PydanticCustomError(
        "integer_range",
        "must be between {minimum} and {maximum}",
        {"minimum": minimum, "maximum": maximum},
    )


def Integer(minimum: int, maximum: int, *, description: str | None = None) -> Checked:
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

    return Checked(
        Field(ge=minimum, le=maximum, description=description, json_schema_extra=_null_refused),
        check,
    )


def QueryInteger(minimum: int, maximum: int, *, description: str | None = None) -> Checked:
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

    return Checked(
        Field(ge=minimum, le=maximum, description=description, json_schema_extra=_null_refused),
        check,
    )


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
) -> Checked:
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

    return Checked(
        Field(
            min_length=min_length,
            max_length=max_length,
            pattern=pattern or (NO_NUL if blank_allowed else NOT_BLANK),
            description=description,
            json_schema_extra=_null_refused,
        ),
        check,
    )


ID = Annotated[int, Integer(1, MAX_BIGINT, description="A row id.")]
