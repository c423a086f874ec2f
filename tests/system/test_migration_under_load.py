"""The hard migrations (a NOT NULL column backfilled on a busy table, an index built
concurrently, a foreign key added NOT VALID then validated) run while orders keep
flowing through gunicorn: no request fails, none waits longer than lock_timeout."""

from __future__ import annotations

import json
import random
import re
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import flask_migrate
import psycopg
import pytest
from builders import release_connections
from processes import Gunicorn, clean_env, flask
from waiting import wait_until

from app import create_app
from app.api.tokens import issue_token
from app.config import sqlalchemy_url
from app.devdb.embedded import TEST_SETTINGS, EmbeddedPostgres
from app.extensions import db

pytestmark = pytest.mark.fault
BEFORE_FEATURE = "5be1d0c47a83"  # report indexes: orders has no item_count yet
COLUMN_ADDED = "6c1f2e8b9a37"  # step 1: the nullable column, before the app writes it
LEGACY_ORDERS = 100_000
LOCK_TIMEOUT_S = 2.0  # DB_LOCK_TIMEOUT_MS default

LEGACY_DATA = [
    "INSERT INTO customers (email, name, region) "
    "SELECT 'c' || g || '@example.com', 'C ' || g, 'europe' FROM generate_series(1, 1000) g",
    "INSERT INTO products (sku, name, price_cents, stock) "
    "SELECT 'P-' || g, 'Product ' || g, 100, 1000000 FROM generate_series(1, 200) g",
    f"INSERT INTO orders (customer_id, total_cents, placed_at) "
    f"SELECT 1 + g % 1000, 300, now() - g * interval '1 minute' "
    f"FROM generate_series(1, {LEGACY_ORDERS}) g",
    "INSERT INTO order_lines (order_id, product_id, quantity, unit_price_cents) "
    "SELECT o.id, 1 + (o.id + k * 7) % 200, 1, 100 FROM orders o, generate_series(1, 3) k",
    "VACUUM ANALYZE",
]


@pytest.fixture
def legacy_shop():
    """A database at the revision before the feature, with 100k orders in it."""
    root = Path(tempfile.mkdtemp(prefix="stockroom-migrate-", dir="/tmp"))
    server = EmbeddedPostgres(root / "pg", settings=TEST_SETTINGS, database="stockroom_legacy")
    server.start()
    url = server.libpq_url()
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": sqlalchemy_url(url), "SECRET_KEY": "legacy", "TESTING": True}
    )
    with app.app_context():
        flask_migrate.upgrade(revision=BEFORE_FEATURE)
        with psycopg.connect(url, autocommit=True) as conn:
            for statement in LEGACY_DATA:
                conn.execute(statement)
        flask_migrate.upgrade(revision=COLUMN_ADDED)
        _token, token = issue_token(db.session, "load")
        db.session.commit()
    release_connections(app)
    try:
        yield url, token
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_hard_migrations_under_load(legacy_shop, tmp_path):
    url, token = legacy_shop
    env = clean_env(
        DATABASE_URL=url,
        WEB_CONCURRENCY="2",
        GUNICORN_THREADS="4",
        ACCESS_LOG="off",
        REQUEST_LOG="off",
    )
    server = Gunicorn(env, tmp_path / "gunicorn.log").start()
    # /readyz says 503 until the migrations reach head; the app itself serves already.
    server.wait_ready(path="/healthz")
    results: list[tuple[int, float]] = []
    stop = threading.Event()

    def client(seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            products = rng.sample(range(1, 201), rng.randint(1, 3))
            body = json.dumps(
                {
                    "customer_id": rng.randint(1, 1000),
                    "lines": [{"product_id": p, "quantity": rng.randint(1, 3)} for p in products],
                }
            )
            request = urllib.request.Request(
                f"{server.url}/api/orders",
                data=body.encode(),
                method="POST",
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            started = time.monotonic()
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    status = response.status
            except urllib.error.HTTPError as error:
                status = error.code
            results.append((status, time.monotonic() - started))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: len(results) >= 20, timeout=30, message="no orders before the migration")
        during = len(results)
        migration = flask("db", "upgrade", env=clean_env(DATABASE_URL=url), timeout=300)
        placed_during = len(results) - during
        # Orders keep going through on the migrated schema.
        after = len(results)
        wait_until(
            lambda: len(results) >= after + 20,
            timeout=30,
            message="no orders after the migration",
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        server.stop()

    assert migration.returncode == 0, migration.stderr[-2000:]
    # Progress per batch, ending at the last order (new orders included).
    progress = re.findall(r"item_count backfill: ([\d,]+)/([\d,]+) orders", migration.stderr)
    assert len(progress) >= LEGACY_ORDERS // 20_000
    assert progress[-1][0] == progress[-1][1]
    statuses = {status for status, _ in results}
    slowest = max(seconds for _, seconds in results)
    print(
        f"\nmigration under load: {len(results)} orders, {placed_during} during the "
        f"migration, statuses {statuses}, slowest {slowest:.3f} s"
    )
    assert placed_during > 50
    assert statuses == {201}
    assert slowest < LOCK_TIMEOUT_S

    with psycopg.connect(url) as conn:
        nullable = conn.execute(
            "SELECT is_nullable FROM information_schema.columns "
            "WHERE table_name = 'orders' AND column_name = 'item_count'"
        ).fetchone()[0]
        assert nullable == "NO"
        wrong = conn.execute("""
            SELECT count(*) FROM orders o
            JOIN (SELECT order_id, sum(quantity) AS units FROM order_lines GROUP BY order_id) l
              ON l.order_id = o.id
            WHERE o.item_count <> l.units""").fetchone()[0]
        assert wrong == 0
        assert conn.execute(
            "SELECT convalidated FROM pg_constraint "
            "WHERE conname = 'fk_orders_cancelled_by_id_admin_users'"
        ).fetchone()[0]
        assert conn.execute(
            "SELECT indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = 'ix_orders_cancelled_by_id'"
        ).fetchone()[0]
