"""Bulk loading with COPY, in one transaction the caller commits."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from app.db.sql import sql_file
from app.seed.generate import DemoData, TableData

SEEDED_TABLES = ("customers", "products", "orders", "order_lines")


def _sql(name: str) -> str:
    return sql_file("app.seed", name)


class SeedRefused(RuntimeError):
    """The database already holds data and replacing it was not asked for."""


@dataclass
class LoadReport:
    """What a load wrote and how long it took."""

    rows: dict[str, int]
    copy_seconds: float
    rebuild_seconds: float

    @property
    def total_rows(self) -> int:
        """Rows written across all tables."""
        return sum(self.rows.values())


def has_rows(conn: psycopg.Connection) -> bool:
    """Whether any seeded table already holds data."""
    row = conn.execute(_sql("existing_rows.sql")).fetchone()
    assert row is not None  # a SELECT without FROM returns one row
    return row[0]


def bulk_load(
    conn: psycopg.Connection,
    data: DemoData,
    *,
    replace: bool,
    on_rows: Callable[[int], None] = lambda n: None,
    on_step: Callable[[str], None] = lambda message: None,
) -> LoadReport:
    """Replace the seeded tables' contents with ``data`` inside the open transaction.

    Refuses (:class:`SeedRefused`) when the tables hold rows and ``replace`` is
    false. Nothing is visible to others until the caller commits; on any error the
    caller's rollback leaves the database as it was.
    """
    # A bulk load is not a web request: lift the per-statement limit for this
    # transaction only, but do not queue forever behind someone else's lock.
    conn.execute("SET LOCAL statement_timeout = 0")
    conn.execute("SET LOCAL lock_timeout = '10s'")
    conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
    if has_rows(conn) and not replace:
        raise SeedRefused(
            "the database already has customers, products or orders; "
            "pass --replace to delete them and load new demo data"
        )
    tables = sql.SQL(", ").join(sql.Identifier(t) for t in SEEDED_TABLES)
    conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY").format(tables))
    deferred = conn.execute(
        _sql("deferred_objects.sql"), {"tables": list(SEEDED_TABLES)}
    ).fetchall()
    for _step, kind, schema, table, name, _definition in reversed(deferred):
        if kind == "index":
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(schema, name)))
        else:
            conn.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                    sql.Identifier(schema, table), sql.Identifier(name)
                )
            )

    # The report rollups' change triggers would queue every loaded order; the rollups
    # are emptied below instead and the seed backfills them after committing.
    conn.execute(_sql("rollup_triggers_off.sql"))

    started = time.perf_counter()
    rows = {}
    for table in data.tables():
        on_step(f"loading {table.name}")
        rows[table.name] = _copy(conn, table, on_rows)
    copied = time.perf_counter()

    for _step, kind, schema, table, name, definition in deferred:
        on_step(f"building {name}")
        if kind == "index":
            # The definition is the server's own pg_get_indexdef output.
            conn.execute(sql.SQL(definition))
        else:
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(
                    sql.Identifier(schema, table), sql.Identifier(name)
                )
                + sql.SQL(definition)
            )
    for table, count in rows.items():
        conn.execute(_sql("reset_identity.sql"), {"table": table, "next_id": count + 1})
    conn.execute(_sql("rollup_triggers_on.sql"))
    conn.execute(sql_file("app.reports.rollups", "start_over.sql"))
    conn.execute(sql_file("app.reports.rollups", "reset.sql"))
    on_step("analyzing")
    conn.execute(sql.SQL("ANALYZE {}").format(tables))
    return LoadReport(rows, copied - started, time.perf_counter() - copied)


def _copy(conn: psycopg.Connection, table: TableData, on_rows: Callable[[int], None]) -> int:
    # FREEZE: the table was truncated in this transaction, so rows can be written
    # frozen and all-visible (no vacuum pass needed before index-only scans).
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FREEZE)").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, table.columns))
    )
    written = 0
    with conn.cursor() as cur, cur.copy(statement, writer=QueuedLibpqWriter(cur)) as copy:
        # The queued writer sends from a thread while this one formats the next
        # chunk; the server parses on the other core.
        for chunk, count in table.chunks:
            copy.write(chunk)
            written += count
            on_rows(count)
    return written
