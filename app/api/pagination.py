"""Keyset pagination: ``?limit=`` and an opaque ``?cursor=`` taken from ``next``.

A cursor names the last id seen, so a page is an index range scan however deep
the client goes (no OFFSET), and rows inserted meanwhile are neither skipped nor
repeated.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence

from flask import request

from app.api.validation import ValidationFailed, query_integer
from app.numbers import MAX_BIGINT, parse_integer

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(last_id: int) -> str:
    """The cursor for the page after ``last_id``."""
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The last id a cursor names, or 422."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        kind, _, value = base64.urlsafe_b64decode(padded.encode("ascii")).decode().partition(":")
        last_id = parse_integer(value)
        if kind != "id" or not 0 <= last_id <= MAX_BIGINT:
            raise ValueError(cursor)
    except (ValueError, UnicodeError, binascii.Error):
        raise ValidationFailed(
            [{"field": "cursor", "message": "is not a cursor this API returned"}]
        ) from None
    return last_id


def page_request() -> tuple[int, int]:
    """(after_id, limit) from the query string."""
    limit = query_integer("limit", DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    cursor = request.args.get("cursor")
    return (decode_cursor(cursor) if cursor else 0), limit


def page(rows: Sequence, limit: int, render: Callable) -> dict:
    """``{items, next}`` from up to ``limit + 1`` rows (the extra one says there is more)."""
    shown = rows[:limit]
    more = len(rows) > limit
    return {
        "items": [render(row) for row in shown],
        "next": encode_cursor(shown[-1].id) if more else None,
    }
