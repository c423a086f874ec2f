"""report rollups

Sums of placed orders per day and per day and month for each product, each
customer's first order and active months, and the customers of each cohort by
month, for the reports
(app/reports/rollups/upkeep.py). All new tables, created empty.

Orders feed them through a queue: statement-level triggers on ``orders`` write one
``order_changes`` row per inserted order and per change to what an order counts
(cancelled, or its customer, time or total changed), in the writing transaction;
the fold consumes the queue. Appending to the queue touches no shared row, so
order placement never waits on the rollups.

Orders that exist before the triggers are the backfill's: creating a trigger takes
SHARE ROW EXCLUSIVE on ``orders``, which waits for the transactions writing to it
and holds new writers until this migration commits, so the highest id read here,
after the triggers exist, splits the orders exactly: up to it, read by
``flask rollup backfill``; above it, queued by the triggers. Until the backfill is
through, reports read the raw tables and say so.

Revision ID: 3f6c2a9d8e14
Revises: 7d3e9b1c5a20
Create Date: 2026-11-27 23:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "3f6c2a9d8e14"
down_revision = "7d3e9b1c5a20"
branch_labels = None
depends_on = None

# The values an order counts with in the rollups; a change to any of them is a
# -1 row for the old values and a +1 row for the new ones.
COUNTED = "(o.status, o.customer_id, o.placed_at, o.total_cents)"
COUNTED_NEW = "(n.status, n.customer_id, n.placed_at, n.total_cents)"

CAPTURE_INSERTS = """
CREATE FUNCTION capture_order_inserts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO order_changes (order_id, customer_id, placed_at, total_cents, sign, new_order)
    SELECT n.id, n.customer_id, n.placed_at, n.total_cents,
           CASE WHEN n.status = 'placed' THEN 1 ELSE 0 END, true
    FROM inserted n;
    RETURN NULL;
END
$$
"""

CAPTURE_UPDATES = f"""
CREATE FUNCTION capture_order_updates() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO order_changes (order_id, customer_id, placed_at, total_cents, sign, new_order)
    SELECT o.id, o.customer_id, o.placed_at, o.total_cents, -1, false
    FROM before o JOIN after n ON n.id = o.id
    WHERE o.status = 'placed' AND {COUNTED} IS DISTINCT FROM {COUNTED_NEW}
    UNION ALL
    SELECT n.id, n.customer_id, n.placed_at, n.total_cents, 1, false
    FROM before o JOIN after n ON n.id = o.id
    WHERE n.status = 'placed' AND {COUNTED} IS DISTINCT FROM {COUNTED_NEW};
    RETURN NULL;
END
$$
"""


def _sums(name: str, period: str, key: str, counts: str) -> None:
    op.create_table(
        name,
        sa.Column(period, sa.Date(), nullable=False),
        sa.Column(key, sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(counts, sa.BigInteger(), nullable=False),
        sa.Column("revenue_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(period, key, name=op.f(f"pk_{name}")),
    )


def upgrade():
    op.create_table(
        "order_changes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column("sign", sa.Integer(), nullable=False),
        sa.Column("new_order", sa.Boolean(), nullable=False),
        sa.CheckConstraint("sign BETWEEN -1 AND 1", name=op.f("ck_order_changes_sign_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_changes")),
    )
    op.create_table(
        "sales_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.Column("revenue_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_sales_days")),
    )
    _sums("sales_product_days", "day", "product_id", "units")
    _sums("sales_product_months", "month", "product_id", "units")
    op.create_table(
        "customer_activity",
        sa.Column("customer_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("first_placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("months", postgresql.ARRAY(sa.Date()), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_activity")),
    )
    op.create_table(
        "cohort_months",
        sa.Column("cohort", sa.Date(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("customers", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("cohort", "month", name=op.f("pk_cohort_months")),
    )
    op.create_table(
        "rollup_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("historic_through_id", sa.BigInteger(), nullable=False),
        sa.Column("backfilled_through_id", sa.BigInteger(), nullable=False),
        sa.Column("folded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("backfilled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_rollup_state_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_state")),
    )
    op.execute(CAPTURE_INSERTS)
    op.execute(CAPTURE_UPDATES)
    op.execute(
        "CREATE TRIGGER orders_capture_inserts AFTER INSERT ON orders"
        " REFERENCING NEW TABLE AS inserted"
        " FOR EACH STATEMENT EXECUTE FUNCTION capture_order_inserts()"
    )
    op.execute(
        "CREATE TRIGGER orders_capture_updates AFTER UPDATE ON orders"
        " REFERENCING OLD TABLE AS before NEW TABLE AS after"
        " FOR EACH STATEMENT EXECUTE FUNCTION capture_order_updates()"
    )
    # After the triggers, under their lock: every order up to here is the backfill's.
    op.execute(
        "INSERT INTO rollup_state (id, historic_through_id, backfilled_through_id)"
        " SELECT 1, coalesce(max(id), 0), 0 FROM orders"
    )


def downgrade():
    op.execute("DROP TRIGGER orders_capture_updates ON orders")
    op.execute("DROP TRIGGER orders_capture_inserts ON orders")
    op.execute("DROP FUNCTION capture_order_updates()")
    op.execute("DROP FUNCTION capture_order_inserts()")
    for table in (
        "rollup_state",
        "cohort_months",
        "customer_activity",
        "sales_product_months",
        "sales_product_days",
        "sales_days",
        "order_changes",
    ):
        op.drop_table(table)
