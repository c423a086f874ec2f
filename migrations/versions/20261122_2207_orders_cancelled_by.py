"""orders.cancelled_by_id: which admin cancelled an order

A nullable column (instant), its index built CONCURRENTLY, and a foreign key added
NOT VALID (a catalog change: no scan while holding a lock on orders) and then
VALIDATEd, which scans under SHARE UPDATE EXCLUSIVE and blocks no reads or writes.
Each step in its own transaction.

Revision ID: 4f8a6d2c0b93
Revises: 0d9e4b7a5c21
Create Date: 2026-11-22 22:07:00
"""

import sqlalchemy as sa
from alembic import context, op

revision = "4f8a6d2c0b93"
down_revision = "0d9e4b7a5c21"
branch_labels = None
depends_on = None

INDEX = "ix_orders_cancelled_by_id"
FOREIGN_KEY = "fk_orders_cancelled_by_id_admin_users"


def _index_is_invalid():
    if context.is_offline_mode():
        return False
    return bool(
        op.get_bind()
        .execute(
            sa.text(
                "SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = :name"
            ),
            {"name": INDEX},
        )
        .scalar()
    )


def upgrade():
    op.add_column("orders", sa.Column("cancelled_by_id", sa.BigInteger(), nullable=True))
    with op.get_context().autocommit_block():
        if _index_is_invalid():  # left by an interrupted concurrent build
            op.execute(f"DROP INDEX CONCURRENTLY {INDEX}")
        op.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON orders "
            "(cancelled_by_id) WHERE cancelled_by_id IS NOT NULL"
        )
        op.execute(
            f"ALTER TABLE orders ADD CONSTRAINT {FOREIGN_KEY} FOREIGN KEY "
            "(cancelled_by_id) REFERENCES admin_users (id) NOT VALID"
        )
        op.execute(f"ALTER TABLE orders VALIDATE CONSTRAINT {FOREIGN_KEY}")


def downgrade():
    with op.get_context().autocommit_block():
        op.execute(f"ALTER TABLE orders DROP CONSTRAINT IF EXISTS {FOREIGN_KEY}")
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
    op.drop_column("orders", "cancelled_by_id")
