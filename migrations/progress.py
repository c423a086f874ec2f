"""Progress of a long migration step, for the console's migrations page.

A backfill (or any step that takes a while) reports how far it got; the page shows
rows done / total, the rate and the time left, live. Use it from a migration,
inside ``op.get_context().autocommit_block()`` so each report is visible at once:

    import progress

    def upgrade():
        with op.get_context().autocommit_block():
            bind = op.get_bind()
            total = bind.execute(sa.text("SELECT count(*) FROM t")).scalar()
            progress.start(bind, revision, "backfill t.x", total)
            for done in ...:                      # one short transaction per batch
                ...
                progress.report(bind, revision, "backfill t.x", done, total)

The table is UNLOGGED (nothing of value is lost in a crash), created on first use
(so migrations earlier in the chain can report too), kept out of autogenerate by
env.py, and read only by the console. In ``--sql`` (offline) mode, report nothing.
"""

from __future__ import annotations

import sqlalchemy as sa

TABLE = "db_migration_progress"
CREATE = sa.text(
    """
    CREATE UNLOGGED TABLE IF NOT EXISTS db_migration_progress (
        revision text NOT NULL,
        step text NOT NULL,
        rows_done bigint NOT NULL DEFAULT 0,
        rows_total bigint,
        started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        pid integer NOT NULL DEFAULT pg_backend_pid(),
        PRIMARY KEY (revision, step)
    )
    """
)
START = sa.text(
    """
    INSERT INTO db_migration_progress (revision, step, rows_total)
    VALUES (:revision, :step, :total)
    ON CONFLICT (revision, step) DO UPDATE
    SET rows_done = 0, rows_total = excluded.rows_total, started_at = clock_timestamp(),
        updated_at = clock_timestamp(), pid = pg_backend_pid()
    """
)
REPORT = sa.text(
    """
    UPDATE db_migration_progress
    SET rows_done = :done, rows_total = :total, updated_at = clock_timestamp(),
        pid = pg_backend_pid()
    WHERE revision = :revision AND step = :step
    """
)


def start(bind, revision: str, step: str, total: int | None = None) -> None:
    """A step begins (``total`` rows, if known)."""
    bind.execute(CREATE)
    bind.execute(START, {"revision": revision, "step": step, "total": total})


def report(bind, revision: str, step: str, done: int, total: int | None = None) -> None:
    """``done`` rows of the step are finished."""
    bind.execute(REPORT, {"revision": revision, "step": step, "done": done, "total": total})
