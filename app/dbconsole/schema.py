"""/admin/db/schema/: sizes, index health, bloat, vacuum and sequence headroom, each
finding with a ready-to-paste Alembic migration that does the safe thing
(``CONCURRENTLY`` in an autocommit block, ``VALIDATE CONSTRAINT``) and that squawk
accepts (the tests lint every kind of snippet).

"Unused" means no scan since the statistics started counting, which proves nothing
on a server up for minutes: that advice waits until the statistics cover
INDEX_ADVICE_MIN_DAYS. An index that backs a constraint (primary key, unique,
exclusion) or is unique is never proposed for dropping (schema_indexes.sql).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask import current_app
from flask_admin import expose
from psycopg import sql as pgsql

from app.auth.guards import SecureBaseView
from app.db.sql import query
from app.db.transactions import DbSession
from app.dbconsole.durations import duration_text
from app.extensions import db

SEQUENCE_ROWS = 20


@dataclass(frozen=True)
class Finding:
    """Something to fix, why, and the migration that fixes it."""

    kind: str  # unused-index, duplicate-index, redundant-index, invalid-index, not-valid ...
    subject: str
    why: str
    snippet: str


def _identifier(*parts: str) -> str:
    # Quoted by psycopg, not by hand: names come from the catalogs, not from input.
    return pgsql.Identifier(*parts).as_string(None)


def _concurrently(definition: str) -> str:
    """``CREATE [UNIQUE] INDEX name ON ...`` (pg_get_indexdef) built concurrently,
    skipped if it exists."""
    return re.sub(
        r"^CREATE (UNIQUE )?INDEX ", r"CREATE \1INDEX CONCURRENTLY IF NOT EXISTS ", definition
    )


def _migration(upgrade: list[str], downgrade: list[str], *, autocommit: bool, why: str) -> str:
    """The body of a migration file: imports, upgrade() and downgrade()."""

    def body(statements: list[str]) -> str:
        if not statements:
            return "    pass  # nothing to undo\n"
        lines = "".join(f"        op.execute({statement!r})\n" for statement in statements)
        if autocommit:
            # CONCURRENTLY cannot run inside the migration's transaction.
            return "    with op.get_context().autocommit_block():\n" + lines
        return lines.replace("        ", "    ")

    return (
        f"# {why}\n"
        "from alembic import op\n\n\n"
        f"def upgrade():\n{body(upgrade)}\n\n"
        f"def downgrade():\n{body(downgrade)}"
    )


def drop_index_snippet(schema: str, index: str, definition: str, why: str) -> str:
    """Drop an index without blocking writes; the downgrade builds it again the same way."""
    return _migration(
        [f"DROP INDEX CONCURRENTLY IF EXISTS {_identifier(schema, index)}"],
        [_concurrently(definition)],
        autocommit=True,
        why=why,
    )


def rebuild_index_snippet(schema: str, index: str, definition: str) -> str:
    """Drop an invalid index and build it again, both concurrently."""
    return _migration(
        [
            f"DROP INDEX CONCURRENTLY IF EXISTS {_identifier(schema, index)}",
            _concurrently(definition),
        ],
        [],
        autocommit=True,
        why=f"{index} is invalid (an interrupted CREATE INDEX CONCURRENTLY): build it again.",
    )


def validate_constraint_snippet(schema: str, table: str, constraint: str) -> str:
    """VALIDATE a NOT VALID constraint: it scans the table without blocking writes."""
    return _migration(
        [f"ALTER TABLE {_identifier(schema, table)} VALIDATE CONSTRAINT {_identifier(constraint)}"],
        [],
        autocommit=False,
        why=f"{constraint} was added NOT VALID: validate it (writes go on meanwhile).",
    )


def widen_sequence_snippet(sequence: str) -> str:
    """A sequence whose own type is the limit: make it bigint (a catalog change)."""
    schema, _, name = sequence.partition(".")
    return _migration(
        [f"ALTER SEQUENCE {_identifier(schema, name)} AS bigint"],
        [],
        autocommit=False,
        why=f"{sequence} nears its maximum: widen it to bigint.",
    )


def widen_column_snippet(table: str, column: str) -> str:
    """An int column nearing 2^31: the first, safe step of moving it to bigint."""
    new = f"{column}_bigint"
    return _migration(
        [f"ALTER TABLE {_identifier(table)} ADD COLUMN IF NOT EXISTS {_identifier(new)} bigint"],
        [f"ALTER TABLE {_identifier(table)} DROP COLUMN IF EXISTS {_identifier(new)}"],
        autocommit=False,
        why=(
            f"{table}.{column} nears 2^31 - 1. Step 1 of 3: add a bigint column (instant); "
            f"then backfill it in batches and write both, then swap them in a short window."
        ),
    )


@dataclass(frozen=True)
class IndexAdvice:
    """Whether the index statistics are old enough to call an index unused."""

    ready: bool
    covered: str  # how long the statistics have been counting: "5 min"
    required: str  # how long they must: "7 days"

    @property
    def waiting(self) -> str:
        """What the page says while the advice waits."""
        return (
            f"index usage statistics cover only {self.covered}; advice about unused "
            f"indexes waits until they cover {self.required}"
        )


def index_advice(stats_age_seconds: float | None, min_days: int) -> IndexAdvice:
    """Unused-index advice is offered once the statistics span ``min_days`` days."""
    age = float(stats_age_seconds or 0)
    days = f"{min_days} day" if min_days == 1 else f"{min_days} days"
    return IndexAdvice(age >= min_days * 86_400, duration_text(age), days)


def findings(
    indexes, constraints, sequences, warn_percent: float, *, unused_advice: bool = True
) -> list[Finding]:
    """What the schema page suggests fixing, each with its migration. Unused indexes
    only with ``unused_advice`` (statistics old enough to tell)."""
    found: list[Finding] = []
    # An index another one is proposed as redundant to keeps serving those queries:
    # never propose dropping it too, however unused it looks.
    covering = {
        index.covered_by
        for index in indexes
        if index.indisvalid and (index.duplicate or index.covered_by)
    }
    for index in indexes:
        if not index.indisvalid:
            found.append(
                Finding(
                    "invalid-index",
                    index.index_name,
                    "invalid: never used by queries, still maintained on every write",
                    rebuild_index_snippet(index.schemaname, index.index_name, index.definition),
                )
            )
        elif index.duplicate or index.covered_by:
            kind = "duplicate-index" if index.duplicate else "redundant-index"
            why = (
                f"the same columns as {index.covered_by}"
                if index.duplicate
                else f"a leading prefix of {index.covered_by}, which serves the same queries"
            )
            found.append(
                Finding(
                    kind,
                    index.index_name,
                    why,
                    drop_index_snippet(
                        index.schemaname,
                        index.index_name,
                        index.definition,
                        f"{index.index_name}: {why}.",
                    ),
                )
            )
        elif index.unused and unused_advice and index.index_name not in covering:
            why = "no scan since statistics were reset; it only costs writes and space"
            found.append(
                Finding(
                    "unused-index",
                    index.index_name,
                    why,
                    drop_index_snippet(
                        index.schemaname,
                        index.index_name,
                        index.definition,
                        f"{index.index_name}: {why}.",
                    ),
                )
            )
    for constraint in constraints:
        found.append(
            Finding(
                "not-valid-constraint",
                constraint.constraint_name,
                f"NOT VALID on {constraint.table_name}: rows from before it are unchecked",
                validate_constraint_snippet(
                    constraint.schemaname, constraint.table_name, constraint.constraint_name
                ),
            )
        )
    for sequence in sequences:
        if sequence.used_percent is None or float(sequence.used_percent) < warn_percent:
            continue
        # The column's type, not the sequence's, is what runs out first.
        column_is_limit = sequence.column_name and sequence.column_max <= sequence.sequence_max
        found.append(
            Finding(
                "sequence-headroom",
                sequence.sequence_name,
                f"{sequence.used_percent} % of {sequence.maximum:,} used",
                widen_column_snippet(sequence.table_name, sequence.column_name)
                if column_is_limit
                else widen_sequence_snippet(sequence.sequence_name),
            )
        )
    return found


def schema_page(session: DbSession) -> dict:
    """Everything the schema page shows: a fixed number of queries."""
    database = session.execute(query("app.dbconsole", "schema_database.sql")).one()
    tables = session.execute(query("app.dbconsole", "schema_tables.sql")).all()
    indexes = session.execute(query("app.dbconsole", "schema_indexes.sql")).all()
    constraints = session.execute(query("app.dbconsole", "schema_constraints.sql")).all()
    sequences = session.execute(
        query("app.dbconsole", "schema_sequences.sql"), {"limit": SEQUENCE_ROWS}
    ).all()
    warn = current_app.config["DB_CHECKS"]["SEQUENCE_WARNING_PERCENT"]
    advice = index_advice(database.stats_age_seconds, current_app.config["INDEX_ADVICE_MIN_DAYS"])
    return {
        "database": database,
        "tables": tables,
        "indexes": indexes,
        "constraints": constraints,
        "sequences": sequences,
        "index_advice": advice,
        "findings": findings(indexes, constraints, sequences, warn, unused_advice=advice.ready),
    }


class SchemaView(SecureBaseView):
    """The schema health page."""

    @expose("/")
    def index(self):
        return self.render("admin/db/schema.html", **schema_page(db.session))
