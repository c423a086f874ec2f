"""Values typed into query strings, headers and forms: whole numbers in one
spelling, and text without what PostgreSQL refuses.

Python's ``int()`` is generous: it takes ``" 5 "``, ``"+7"``, ``"1_000"`` and other
scripts' digits (``"٣"``), and raises on more than 4,300 digits; WTForms' range
check then turns a huge number into a float and fails with ``OverflowError``. A
number typed into a query string, a header or a form is ASCII digits with an
optional leading minus, nothing else; anything longer than any column could hold
is out of range without ever being converted.
"""

from __future__ import annotations

import re
from typing import overload

from wtforms import IntegerField

# Limits of PostgreSQL's integer types, for the columns and parameters they protect.
MAX_INT = 2**31 - 1
MAX_BIGINT = 2**63 - 1

_INTEGER = re.compile(r"-?[0-9]+")
# More digits than a bigint has: out of range for every column, never converted.
_MAX_DIGITS = 19
# Longer search text is cut: nobody types more, and it would only cost the server.
MAX_SEARCH = 200


class NotAnInteger(ValueError):
    """The text is not ASCII digits with an optional leading minus."""


class IntegerOutOfRange(ValueError):
    """The text is a whole number, but longer than any column could hold."""


def parse_integer(text: str) -> int:
    """The whole number ``text`` spells, or :class:`NotAnInteger` /
    :class:`IntegerOutOfRange`."""
    if not isinstance(text, str) or not _INTEGER.fullmatch(text):
        raise NotAnInteger(text)
    if len(text.lstrip("-")) > _MAX_DIGITS:
        raise IntegerOutOfRange(text)
    return int(text)


class StrictIntegerField(IntegerField):
    """WTForms' IntegerField accepting only :func:`parse_integer`'s spelling; a
    number too long for any column is a range error, not a crash."""

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        raw = valuelist[0]
        if raw == "":
            self.data = None
            return
        try:
            self.data = parse_integer(raw)
        except IntegerOutOfRange:
            self.data = None
            raise ValueError(self.gettext("Number is out of range.")) from None
        except NotAnInteger:
            self.data = None
            raise ValueError(
                self.gettext("Enter a whole number: digits only, optionally after a minus.")
            ) from None


@overload
def clean_text(value: str) -> str: ...
@overload
def clean_text(value: str | None) -> str | None: ...
@overload
def clean_text(value: object) -> object: ...
def clean_text(value: object) -> object:
    """Text from the query string without NUL bytes (PostgreSQL refuses them), capped
    at MAX_SEARCH characters; anything else as it is."""
    return value.replace("\x00", "")[:MAX_SEARCH] if isinstance(value, str) else value
