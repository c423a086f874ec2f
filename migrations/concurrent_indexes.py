"""Building an index on a live table from a migration (import as
``import concurrent_indexes``; env.py and the app put this directory on sys.path).

Call inside ``op.get_context().autocommit_block()``: CREATE INDEX CONCURRENTLY cannot
run in a transaction. IF NOT EXISTS lets a rerun after a failure go on, and an
INVALID index that an interrupted build left behind (it would make IF NOT EXISTS
skip the build) is dropped first.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op


def index_is_invalid(name: str) -> bool:
    """Whether an interrupted concurrent build left ``name`` behind, unusable."""
    if context.is_offline_mode():
        return False
    return bool(
        op.get_bind()
        .execute(
            sa.text(
                "SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = :name"
            ),
            {"name": name},
        )
        .scalar()
    )


def create_concurrently(name: str, definition: str) -> None:
    """``CREATE INDEX CONCURRENTLY IF NOT EXISTS name definition``, after dropping an
    invalid leftover of the same name. ``definition`` is our own text ("ON t (c)")."""
    if index_is_invalid(name):
        op.execute(f"DROP INDEX CONCURRENTLY {name}")
    op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} {definition}")
