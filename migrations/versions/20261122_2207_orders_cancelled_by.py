"""orders.cancelled_by_id: which admin cancelled an order

A nullable column (instant), its index built CONCURRENTLY, and a foreign key added
NOT VALID (a catalog change: no scan while holding a lock on orders) and then
VALIDATEd, which scans under SHARE UPDATE EXCLUSIVE and blocks no reads or writes.
Each step in its own transaction.

Revision ID: 4f8a6d2c0b93
Revises: 0d9e4b7a5c21
Create Date: 2026-11-22 22:07:00
"""

import concurrent_indexes
import sqlalchemy as sa
from alembic import op

revision = "4f8a6d2c0b93"
down_revision = "0d9e4b7a5c21"
branch_labels = None
depends_on = None

INDEX = "ix_orders_cancelled_by_id"
FOREIGN_KEY = "fk_orders_cancelled_by_id_admin_users"


def upgrade():
    op.add_column("orders", sa.Column("cancelled_by_id", sa.BigInteger(), nullable=True))
    with op.get_context().autocommit_block():
        concurrent_indexes.create_concurrently(
            INDEX, "ON orders (cancelled_by_id) WHERE cancelled_by_id IS NOT NULL"
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
