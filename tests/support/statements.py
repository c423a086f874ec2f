"""Counting the SQL statements a piece of work sends."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event


@contextmanager
def counting_statements(engine):
    """Collect the statements sent on ``engine`` in the block (the test harness's
    own SAVEPOINTs, which stand in for commits, are left out)."""
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        if "SAVEPOINT" not in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)
