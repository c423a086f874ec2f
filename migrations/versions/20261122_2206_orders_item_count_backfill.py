"""orders.item_count: backfill in batches, then NOT NULL without a long lock

Steps 2 and 3 for a NOT NULL column on a large, busy table, each in its own short
transaction (Alembic's autocommit block) so no lock is held across steps:

1. backfill rows still NULL, BATCH ids at a time, with progress on stderr; each
   batch locks only its own rows for milliseconds, so orders keep flowing;
2. ADD CONSTRAINT ... CHECK (item_count IS NOT NULL) NOT VALID: a catalog change;
3. VALIDATE CONSTRAINT: scans the table under SHARE UPDATE EXCLUSIVE, which does
   not block reads or writes;
4. SET NOT NULL: PostgreSQL sees the validated CHECK and skips its own scan, so the
   ACCESS EXCLUSIVE lock lasts an instant (lock_timeout bounds the wait for it).

The CHECK stays: dropping it would be one more ACCESS EXCLUSIVE moment for nothing
(and it documents the rule in the catalog).

Revision ID: 0d9e4b7a5c21
Revises: 6c1f2e8b9a37
Create Date: 2026-11-22 22:06:00
"""

import sys
import time

import progress
import sqlalchemy as sa
from alembic import context, op

revision = "0d9e4b7a5c21"
down_revision = "6c1f2e8b9a37"
branch_labels = None
depends_on = None

BATCH = 20_000
STEP = "backfill orders.item_count"
BACKFILL = """
    UPDATE orders o SET item_count = l.units
    FROM (SELECT order_id, sum(quantity) AS units FROM order_lines
          WHERE order_id >= :first AND order_id < :stop GROUP BY order_id) l
    WHERE o.id = l.order_id AND o.item_count IS NULL
"""
# An order without lines (none should exist) counts zero items.
NO_LINES = """
    UPDATE orders SET item_count = 0
    WHERE id >= :first AND id < :stop AND item_count IS NULL
"""


def _backfill():
    if context.is_offline_mode():
        # --sql output: the statement each batch runs, for review and linting.
        op.execute(sa.text(BACKFILL).bindparams(first=1, stop=1 + BATCH))
        op.execute(sa.text(NO_LINES).bindparams(first=1, stop=1 + BATCH))
        return
    bind = op.get_bind()
    last = bind.execute(sa.text("SELECT coalesce(max(id), 0) FROM orders")).scalar()
    started = time.monotonic()
    # The console's migrations page shows it live (see migrations/progress.py).
    if last:
        progress.start(bind, revision, STEP, last)
    for first in range(1, last + 1, BATCH):
        params = {"first": first, "stop": first + BATCH}
        bind.execute(sa.text(BACKFILL), params)
        bind.execute(sa.text(NO_LINES), params)
        done = min(first + BATCH - 1, last)
        progress.report(bind, revision, STEP, done, last)  # (a no-op without start)
        print(
            f"item_count backfill: {done:,}/{last:,} orders ({100 * done // last} %), "
            f"{time.monotonic() - started:.1f} s",
            file=sys.stderr,
            flush=True,
        )


def upgrade():
    with op.get_context().autocommit_block():
        _backfill()
        op.execute(
            "ALTER TABLE orders ADD CONSTRAINT ck_orders_item_count_not_null "
            "CHECK (item_count IS NOT NULL) NOT VALID"
        )
        op.execute("ALTER TABLE orders VALIDATE CONSTRAINT ck_orders_item_count_not_null")
        op.execute("ALTER TABLE orders ALTER COLUMN item_count SET NOT NULL")


def downgrade():
    # The values stay (dropping them is the previous revision's downgrade).
    op.execute("ALTER TABLE orders ALTER COLUMN item_count DROP NOT NULL")
    op.execute("ALTER TABLE orders DROP CONSTRAINT ck_orders_item_count_not_null")
