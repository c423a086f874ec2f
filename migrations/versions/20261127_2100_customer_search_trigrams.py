"""customer search trigrams

The admin's customer search is Flask-Admin's ``ILIKE '%term%'`` on email and name;
at a million customers that reads the whole table (about 450 ms a page). Trigram
GIN indexes (pg_trgm, a trusted extension: the database owner may create it) let
the planner find rare terms by index; common terms still walk the primary key,
where matches are dense.

Built CONCURRENTLY outside the migration's transaction, IF NOT EXISTS so a rerun
after a failure goes on, dropping first what an interrupted build left INVALID.

Revision ID: 7d3e9b1c5a20
Revises: faba05d756f0
Create Date: 2026-11-27 21:00:00
"""

import concurrent_indexes
from alembic import op

revision = "7d3e9b1c5a20"
down_revision = "faba05d756f0"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_customers_email_trgm": "ON customers USING gin (email gin_trgm_ops)",
    "ix_customers_name_trgm": "ON customers USING gin (name gin_trgm_ops)",
}


def upgrade():
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    with op.get_context().autocommit_block():
        for name, definition in INDEXES.items():
            concurrent_indexes.create_concurrently(name, definition)


def downgrade():
    with op.get_context().autocommit_block():
        for name in INDEXES:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    # The extension stays: other objects may have come to use it since.
