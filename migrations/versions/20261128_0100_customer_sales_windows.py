"""customer sales windows

Each customer's placed orders and revenue over the last 30, 90, 365 and 1,099 days
(the top-customers report's common ranges: its default is 90 days, its widest
1,099), kept by the fold with the customer's region, so the report ranks from an
index instead of summing millions of orders (app/reports/rollups/upkeep.py).

A window counts the folded orders placed on or after its ``starts_on``. Created
here starting tomorrow, so empty and exact from the start; ``flask rollup backfill``
(and, a day at a time, the workers' rollup job) widens each one back to its length,
then moves it forward every day.

A customer's region is kept with their sums: a statement-level trigger on
``customers`` queues each change of region in the changing transaction
(``customer_region_changes``) for the fold to apply, the same way order changes
reach the rollups. Creating it takes SHARE ROW EXCLUSIVE on ``customers`` for the
length of this migration (a few milliseconds; lock_timeout bounds the wait).

Revision ID: b96243ba43d9
Revises: 3f6c2a9d8e14
Create Date: 2026-11-28 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "b96243ba43d9"
down_revision = "3f6c2a9d8e14"
branch_labels = None
depends_on = None

WINDOWS = (30, 90, 365, 1099)

CAPTURE_REGION_CHANGES = """
CREATE FUNCTION capture_customer_region_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_region_changes (customer_id)
    SELECT n.id
    FROM before o JOIN after n ON n.id = o.id
    WHERE n.region IS DISTINCT FROM o.region;
    RETURN NULL;
END
$$
"""


def upgrade():
    op.create_table(
        "customer_sales_windows",
        sa.Column("window_days", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.CheckConstraint(
            "window_days > 0", name=op.f("ck_customer_sales_windows_window_days_positive")
        ),
        sa.PrimaryKeyConstraint("window_days", name=op.f("pk_customer_sales_windows")),
    )
    op.create_table(
        "customer_window_sales",
        sa.Column("window_days", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("customer_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("region", sa.Text(), nullable=False),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.Column("revenue_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "window_days", "customer_id", name=op.f("pk_customer_window_sales")
        ),
    )
    # A new, empty table: no need for CONCURRENTLY.
    op.create_index(
        "ix_customer_window_sales_ranking",
        "customer_window_sales",
        ["window_days", "region", sa.text("revenue_cents DESC"), "customer_id"],
    )
    op.create_table(
        "customer_region_changes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_region_changes")),
    )
    op.execute(
        "INSERT INTO customer_sales_windows (window_days, starts_on) VALUES "
        + ", ".join(f"({days}, (now() AT TIME ZONE 'UTC')::date + 1)" for days in WINDOWS)
    )
    op.execute(CAPTURE_REGION_CHANGES)
    op.execute(
        "CREATE TRIGGER customers_capture_region_changes AFTER UPDATE ON customers"
        " REFERENCING OLD TABLE AS before NEW TABLE AS after"
        " FOR EACH STATEMENT EXECUTE FUNCTION capture_customer_region_changes()"
    )


def downgrade():
    op.execute("DROP TRIGGER customers_capture_region_changes ON customers")
    op.execute("DROP FUNCTION capture_customer_region_changes()")
    op.drop_table("customer_region_changes")
    op.drop_index("ix_customer_window_sales_ranking", table_name="customer_window_sales")
    op.drop_table("customer_window_sales")
    op.drop_table("customer_sales_windows")
