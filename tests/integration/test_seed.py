"""flask seed: consistent, reproducible demo data loaded with COPY."""

from datetime import date, timedelta

import pytest
from sqlalchemy import text

from app.catalog.models import Product

SMALL = ["--customers", "300", "--products", "60", "--orders", "3000", "--until", "2026-06-30"]

SCHEMA_OBJECTS = text("""
    SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
    WHERE connamespace = 'public'::regnamespace
    UNION ALL
    SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'
""")
FINGERPRINT = text("""
    SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM (
        SELECT c::text AS t FROM customers c UNION ALL SELECT p::text FROM products p
        UNION ALL SELECT o::text FROM orders o UNION ALL SELECT l::text FROM order_lines l
    ) rows
""")


@pytest.fixture
def seed(base_app, committed):
    runner = base_app.test_cli_runner()

    def run(*args):
        return runner.invoke(args=["seed", *args])

    return run


def test_seed_loads_consistent_data(seed, committed):
    with committed.connect() as conn:
        schema_before = set(conn.execute(SCHEMA_OBJECTS).scalars())

    result = seed(*SMALL, "--random-seed", "7")
    assert result.exit_code == 0, result.output
    assert "rows/s" in result.output

    with committed.connect() as conn:
        counts = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM products), "
                "(SELECT count(*) FROM orders), (SELECT count(*) FROM order_lines)"
            )
        ).one()
        assert counts[:3] == (300, 60, 3000)
        assert 2.5 * 3000 < counts[3] < 3.5 * 3000  # about three lines an order
        mismatched = conn.execute(
            text("""
            SELECT count(*) FROM orders o
            JOIN (SELECT order_id, sum(quantity * unit_price_cents) AS total
                  FROM order_lines GROUP BY order_id) l ON l.order_id = o.id
            WHERE l.total <> o.total_cents""")
        ).scalar_one()
        assert mismatched == 0
        wrong_counts = conn.execute(
            text("""
            SELECT count(*) FROM orders o
            JOIN (SELECT order_id, sum(quantity) AS units FROM order_lines GROUP BY order_id) l
              ON l.order_id = o.id
            WHERE l.units <> o.item_count""")
        ).scalar_one()
        assert wrong_counts == 0
        first, last = conn.execute(
            text("SELECT min(placed_at)::date, max(placed_at)::date FROM orders")
        ).one()
        assert last <= date(2026, 6, 30)
        assert first >= date(2026, 6, 30) - timedelta(days=548)
        assert (last - first).days > 500  # spread over about 18 months
        # Indexes and constraints dropped for the load are all back.
        assert set(conn.execute(SCHEMA_OBJECTS).scalars()) == schema_before
        # The report rollups were built from the loaded orders, the queue left empty
        # (the change triggers stayed quiet during the load and are back on).
        ready, queued, rolled, placed = conn.execute(
            text("""
            SELECT (SELECT backfilled_through_id >= historic_through_id FROM rollup_state),
                   (SELECT count(*) FROM order_changes),
                   (SELECT sum(revenue_cents) FROM sales_days),
                   (SELECT sum(total_cents) FROM orders WHERE status = 'placed')""")
        ).one()
        assert (ready, queued, rolled) == (True, 0, placed)
        assert "backfilled 3,000 older orders" in result.output

    # Identities continue after the loaded ids.
    with committed.sessions.begin() as session:
        product = Product(sku="AFTER-SEED", name="After seed", price_cents=1, stock=1)
        session.add(product)
        session.flush()
        assert product.id == 61
    # The rollups' change triggers are back on: a new order is queued for them.
    with committed.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO orders (customer_id, total_cents, item_count) VALUES (1, 100, 1)")
        )
        assert conn.execute(text("SELECT count(*) FROM order_changes")).scalar_one() == 1


def test_seed_is_reproducible(seed, committed):
    def fingerprint(*args):
        assert seed(*SMALL, "--replace", *args).exit_code == 0
        with committed.connect() as conn:
            return conn.execute(FINGERPRINT).scalar_one()

    assert fingerprint("--random-seed", "3") == fingerprint("--random-seed", "3")
    assert fingerprint("--random-seed", "4") != fingerprint("--random-seed", "3")


def test_seed_refuses_to_overwrite_without_replace(seed, committed):
    assert seed(*SMALL).exit_code == 0
    result = seed("--customers", "5", "--products", "5", "--orders", "5")
    assert result.exit_code == 1
    assert "--replace" in result.output
    with committed.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM orders")).scalar_one() == 3000


@pytest.mark.parametrize(
    "args",
    [["--orders", "-1"], ["--customers", "0"], ["--until", "yesterday"], ["--products", "many"]],
)
def test_seed_rejects_bad_options(seed, args):
    result = seed(*args)
    assert result.exit_code == 2
    assert "Invalid value" in result.output
