"""Keyset pagination: ``?limit=`` and ``?cursor=`` taken from ``next``.

A cursor is the last id the previous page listed, so a page is an index range scan
however deep the client goes (no OFFSET), and rows inserted meanwhile are neither
skipped nor repeated. Its format is stated in the OpenAPI document (ASCII digits):
any cursor of that form is valid, one beyond the last id simply gives an empty page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, WithJsonSchema
from pydantic_core import PydanticCustomError

from app.api.fields import QueryInteger
from app.inputs import MAX_BIGINT, IntegerOutOfRange, parse_integer

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
CURSOR_PATTERN = r"^[0-9]{1,19}$"

PageLimit = Annotated[int, QueryInteger(1, MAX_LIMIT, description="Rows per page.")]


def encode_cursor(last_id: int) -> str:
    """The cursor for the page after ``last_id``."""
    return str(last_id)


def decode_cursor(cursor: Any) -> int:
    """The last id a cursor names (ids beyond bigint: the largest, an empty page)."""
    try:
        if not isinstance(cursor, str) or len(cursor) > 19:
            raise IntegerOutOfRange(cursor)
        last_id = parse_integer(cursor)
    except ValueError:
        raise PydanticCustomError(
            "cursor", "is not a cursor: the `next` of a page (1 to 19 ASCII digits)"
        ) from None
    if last_id < 0:
        raise PydanticCustomError("cursor", "is not a cursor: the `next` of a page")
    return min(last_id, MAX_BIGINT)


Cursor = Annotated[
    int | None,
    BeforeValidator(decode_cursor),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": CURSOR_PATTERN,
            "description": "The `next` of the previous page: the last id it listed.",
        }
    ),
]


class PageQuery(BaseModel):
    """``?limit=&cursor=``; other query keys are ignored."""

    model_config = ConfigDict(extra="ignore", regex_engine="python-re")

    limit: PageLimit = DEFAULT_LIMIT
    cursor: Cursor = None


def page(rows: Sequence, limit: int, render) -> dict:
    """``{items, next}`` from up to ``limit + 1`` rows (the extra one says there is more)."""
    shown = rows[:limit]
    more = len(rows) > limit
    return {
        "items": [render(row) for row in shown],
        "next": encode_cursor(shown[-1].id) if more else None,
    }
