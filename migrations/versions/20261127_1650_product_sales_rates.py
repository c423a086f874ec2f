"""product sales rates

A new, empty table the hourly ``sales-rates`` job fills: each product's units sold
per day over the last 30 days, for the admin dashboard's "about to run out".
No foreign key to products: it is a cache rebuilt every hour and read joined with
products, and creating the key would lock the busiest table of the shop (SHARE ROW
EXCLUSIVE on products) for nothing.

Revision ID: faba05d756f0
Revises: c52da2104c5b
Create Date: 2026-11-27 16:50:01
"""

import sqlalchemy as sa
from alembic import op

revision = "faba05d756f0"
down_revision = "c52da2104c5b"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "product_sales_rates",
        sa.Column("product_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("daily_units", sa.Numeric(), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_product_sales_rates")),
    )


def downgrade():
    op.drop_table("product_sales_rates")
