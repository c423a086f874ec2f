"""rollup guards and audits

Rollups that cannot drift: every change to the orders that could alter a report's
answer is either queued for the fold (inserts, cancellations and edits of totals,
as before; a TRUNCATE of the orders now empties the rollups with them) or refused
by the database with a clear error:

- an order is never deleted (cancel it);
- an order's customer and placed time never change;
- an order line is never changed or deleted, and is only added while its order's
  own change still waits in the queue (in practice: with the order, in its
  transaction), so the fold, which reads an order's lines when it folds the order,
  always reads them whole; TRUNCATE of the lines alone is refused too.

``order_changes.queued_at`` dates each queued change (the overview's queue-age
check), and ``rollup_audits`` keeps the audit job's findings
(app/reports/rollups/audit.py).

The triggers are created under the migration's lock_timeout, with the three tables
locked first in the order an order's transaction takes them (SHARE ROW EXCLUSIVE:
new writers wait milliseconds; no deadlock with an order placed meanwhile). The queue's new
partial index is built CONCURRENTLY. Adding ``queued_at`` with ``now()`` as default
is a catalog-only change (the default is not volatile).

Revision ID: 2e8a4c6b9d17
Revises: 6c1f0d7e2a55
Create Date: 2026-12-04 10:10:00
"""

import concurrent_indexes
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "2e8a4c6b9d17"
down_revision = "6c1f0d7e2a55"
branch_labels = None
depends_on = None

# Refused changes are integrity violations (SQLSTATE 23001), with a hint.
REFUSE_ORDER_DELETES = """
CREATE FUNCTION refuse_order_deletes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM deleted) THEN
        RAISE EXCEPTION 'orders are never deleted: cancel the order instead'
            USING ERRCODE = 'restrict_violation',
                  DETAIL = 'The report rollups count every order placed.',
                  HINT = 'POST /api/orders/<public_id>/cancel, or Cancel in the admin.';
    END IF;
    RETURN NULL;
END
$$
"""

REFUSE_ORDER_MOVES = """
CREATE FUNCTION refuse_order_moves() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'an order''s customer and placed time never change (order %)', OLD.id
        USING ERRCODE = 'restrict_violation',
              HINT = 'Cancel the order and place a new one.';
END
$$
"""

ROLLUPS_START_OVER = """
CREATE FUNCTION rollups_start_over() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- The orders are gone: so is everything the rollups summed, in this transaction.
    DELETE FROM order_changes;
    DELETE FROM customer_region_changes;
    DELETE FROM sales_days;
    DELETE FROM sales_product_days;
    DELETE FROM sales_product_months;
    DELETE FROM customer_activity;
    DELETE FROM cohort_months;
    DELETE FROM customer_window_sales;
    UPDATE rollup_state
    SET historic_through_id = 0, backfilled_through_id = 0, folded_at = NULL,
        backfilled_at = now()
    WHERE id = 1;
    RETURN NULL;
END
$$
"""

REFUSE_LINE_CHANGES = """
CREATE FUNCTION refuse_order_line_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM deleted) THEN
        RAISE EXCEPTION 'order lines are never changed or deleted'
            USING ERRCODE = 'restrict_violation',
                  HINT = 'Cancel the order and place a new one.';
    END IF;
    RETURN NULL;
END
$$
"""

LINES_WITH_THEIR_ORDER = """
CREATE FUNCTION order_lines_with_their_order() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    orphan bigint;
BEGIN
    -- Hold the orders' queued changes, so that no fold can take one between this
    -- check and this transaction's end (a fold skips a change held by a writer).
    PERFORM 1 FROM order_changes c
    WHERE c.new_order AND c.order_id IN (SELECT order_id FROM inserted)
    FOR SHARE OF c;
    SELECT i.order_id INTO orphan
    FROM inserted i
    WHERE NOT EXISTS (SELECT 1 FROM order_changes c
                      WHERE c.new_order AND c.order_id = i.order_id)
    LIMIT 1;
    IF orphan IS NOT NULL THEN
        RAISE EXCEPTION 'order lines are written with their order: order % is already placed',
                        orphan
            USING ERRCODE = 'restrict_violation',
                  HINT = 'Place a new order for the extra products.';
    END IF;
    RETURN NULL;
END
$$
"""

REFUSE_LINES_TRUNCATE = """
CREATE FUNCTION refuse_order_lines_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM orders) THEN
        RAISE EXCEPTION 'order lines are only truncated with their orders'
            USING ERRCODE = 'restrict_violation',
                  HINT = 'TRUNCATE orders, order_lines (or orders CASCADE).';
    END IF;
    RETURN NULL;
END
$$
"""

TRIGGERS = (
    (
        "orders_refuse_deletes",
        "orders",
        "AFTER DELETE ON orders REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT"
        " EXECUTE FUNCTION refuse_order_deletes()",
    ),
    (
        "orders_refuse_moves",
        "orders",
        "BEFORE UPDATE OF customer_id, placed_at ON orders FOR EACH ROW"
        " WHEN (OLD.customer_id IS DISTINCT FROM NEW.customer_id"
        " OR OLD.placed_at IS DISTINCT FROM NEW.placed_at)"
        " EXECUTE FUNCTION refuse_order_moves()",
    ),
    (
        "orders_truncate_rollups",
        "orders",
        "AFTER TRUNCATE ON orders FOR EACH STATEMENT EXECUTE FUNCTION rollups_start_over()",
    ),
    (
        "order_lines_refuse_updates",
        "order_lines",
        "AFTER UPDATE ON order_lines REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT"
        " EXECUTE FUNCTION refuse_order_line_changes()",
    ),
    (
        "order_lines_refuse_deletes",
        "order_lines",
        "AFTER DELETE ON order_lines REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT"
        " EXECUTE FUNCTION refuse_order_line_changes()",
    ),
    (
        "order_lines_with_their_order",
        "order_lines",
        "AFTER INSERT ON order_lines REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT"
        " EXECUTE FUNCTION order_lines_with_their_order()",
    ),
    (
        "order_lines_refuse_truncate",
        "order_lines",
        "AFTER TRUNCATE ON order_lines FOR EACH STATEMENT"
        " EXECUTE FUNCTION refuse_order_lines_truncate()",
    ),
)
FUNCTIONS = (
    ("refuse_order_deletes", REFUSE_ORDER_DELETES),
    ("refuse_order_moves", REFUSE_ORDER_MOVES),
    ("rollups_start_over", ROLLUPS_START_OVER),
    ("refuse_order_line_changes", REFUSE_LINE_CHANGES),
    ("order_lines_with_their_order", LINES_WITH_THEIR_ORDER),
    ("refuse_order_lines_truncate", REFUSE_LINES_TRUNCATE),
)


def upgrade():
    # Every lock up front, in the order an order's transaction takes them (orders,
    # its lines, then the queue its triggers write): taken one by one, the queue's
    # ALTER and then the triggers on orders deadlock with an order placed in between.
    # Writers wait for this transaction (milliseconds of DDL), under lock_timeout.
    op.execute("LOCK TABLE orders, order_lines, order_changes IN SHARE ROW EXCLUSIVE MODE")
    op.add_column(
        "order_changes",
        sa.Column(
            "queued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=True
        ),
    )
    op.create_table(
        "rollup_audits",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "checked_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("questions", sa.Integer(), nullable=False),
        sa.Column("different", sa.Integer(), nullable=True),
        sa.Column("differences", postgresql.JSONB(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_audits")),
    )
    for _name, body in FUNCTIONS:
        op.execute(body)
    for name, _table, definition in TRIGGERS:
        op.execute(f"CREATE TRIGGER {name} {definition}")
    with op.get_context().autocommit_block():
        concurrent_indexes.create_concurrently(
            "ix_order_changes_new_orders", "ON order_changes (order_id) WHERE new_order"
        )


def downgrade():
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_order_changes_new_orders")
    for name, table, _definition in reversed(TRIGGERS):
        op.execute(f"DROP TRIGGER {name} ON {table}")
    for name, _body in reversed(FUNCTIONS):
        op.execute(f"DROP FUNCTION {name}()")
    op.drop_table("rollup_audits")
    op.drop_column("order_changes", "queued_at")
