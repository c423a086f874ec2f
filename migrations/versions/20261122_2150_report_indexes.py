"""report indexes

Covering indexes for the date-range reports, built without blocking writes on
large live tables:

- CREATE INDEX CONCURRENTLY (outside the migration's transaction: Alembic's
  autocommit block), IF NOT EXISTS so a rerun after a failure goes on;
- a failed concurrent build leaves an INVALID index behind: it is dropped first;
- the index the covering one replaces is dropped CONCURRENTLY too, after the new
  one is ready, so the queries that used it always have an index.

statement_timeout for these builds comes from MIGRATION_STATEMENT_TIMEOUT (15 min
by default); lock_timeout still bounds the short waits a concurrent build makes.

Revision ID: 5be1d0c47a83
Revises: 9a5ad7651227
Create Date: 2026-11-22 21:50:00
"""

import concurrent_indexes
from alembic import op

revision = "5be1d0c47a83"
down_revision = "9a5ad7651227"
branch_labels = None
depends_on = None

NEW_INDEXES = {
    "ix_orders_placed_at_covering": (
        "ON orders (placed_at) INCLUDE (customer_id, total_cents, status)"
    ),
    "ix_order_lines_order_id_covering": (
        "ON order_lines (order_id) INCLUDE (product_id, quantity, unit_price_cents)"
    ),
}


def upgrade():
    with op.get_context().autocommit_block():
        for name, definition in NEW_INDEXES.items():
            concurrent_indexes.create_concurrently(name, definition)
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_orders_placed_at")


def downgrade():
    with op.get_context().autocommit_block():
        op.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_orders_placed_at ON orders (placed_at)"
        )
        for name in NEW_INDEXES:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
