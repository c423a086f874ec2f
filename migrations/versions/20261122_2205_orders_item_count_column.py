"""orders.item_count: add the column (expand)

Step 1 of 3 for a NOT NULL column on a large, busy table. Adding a nullable column
without a default only changes the catalog: instant, whatever the table's size.
From this revision on, the app writes item_count for every new order; the next
migration backfills the old rows and only then makes the column NOT NULL.

Revision ID: 6c1f2e8b9a37
Revises: 5be1d0c47a83
Create Date: 2026-11-22 22:05:00
"""

import sqlalchemy as sa
from alembic import op

revision = "6c1f2e8b9a37"
down_revision = "5be1d0c47a83"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("orders", sa.Column("item_count", sa.Integer(), nullable=True))


def downgrade():
    op.drop_column("orders", "item_count")
