"""Faults against real processes: PostgreSQL restarted under load, an exhausted pool,
statement and lock timeouts, a worker killed mid-request.

These run against a PostgreSQL cluster of their own (it gets stopped) and real
gunicorn. Marked ``fault``: .ci/run runs them as a separate, time-bounded step.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import flask_migrate
import psycopg
import pytest
from processes import Gunicorn, clean_env

from app import create_app
from app.api.tokens import issue_token
from app.catalog.models import Product
from app.config import sqlalchemy_url
from app.customers.models import Customer
from app.db.embedded import TEST_SETTINGS, EmbeddedPostgres
from app.extensions import db

pytestmark = pytest.mark.fault
STOCK = 10_000


class Shop:
    """A cluster of its own with a customer, products and an API token."""

    def __init__(self, root: Path) -> None:
        self.server = EmbeddedPostgres(
            root / "pg", settings=TEST_SETTINGS, database="stockroom_faults"
        )
        self.server.start()
        self.url = self.server.libpq_url()
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(self.url),
                "SECRET_KEY": "faults",
                "TESTING": True,
            }
        )
        with app.app_context():
            flask_migrate.upgrade()
            customer = Customer(email="faults@example.com", name="Fault", region="europe")
            products = [
                Product(sku=f"F-{i}", name=f"Fault {i}", price_cents=100, stock=STOCK)
                for i in range(4)
            ]
            db.session.add_all([customer, *products])
            _token, self.token = issue_token(db.session, "faults")
            db.session.commit()
            self.customer_id = customer.id
            self.product_ids = [p.id for p in products]
            db.engine.dispose()

    def sql(self, statement: str, params=None):
        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(statement, params).fetchall()

    def ledger_holds(self) -> None:
        """Stock received = sold (placed orders) + left, for every product."""
        rows = self.sql("""
            SELECT p.id, p.stock, coalesce(sum(l.quantity) FILTER (WHERE o.status = 'placed'), 0)
            FROM products p LEFT JOIN order_lines l ON l.product_id = p.id
            LEFT JOIN orders o ON o.id = l.order_id GROUP BY p.id""")
        for product_id, stock, sold in rows:
            assert stock + sold == STOCK, (product_id, stock, sold)


@pytest.fixture(scope="module")
def shop():
    root = Path(tempfile.mkdtemp(prefix="stockroom-faults-", dir="/tmp"))
    shop = Shop(root)
    yield shop
    if shop.server.is_running():
        shop.server.stop()
    shutil.rmtree(root, ignore_errors=True)


def start_gunicorn(shop, tmp_path, **settings) -> Gunicorn:
    env = clean_env(
        DATABASE_URL=shop.url,
        ACCESS_LOG="off",
        REQUEST_LOG="off",
        **{key: str(value) for key, value in settings.items()},
    )
    server = Gunicorn(env, tmp_path / "gunicorn.log").start()
    server.wait_ready()
    return server


def post_order(server, shop, product_ids, key=None, timeout=30):
    """(status, body dict, headers, seconds) of one POST /api/orders."""
    body = json.dumps(
        {
            "customer_id": shop.customer_id,
            "lines": [{"product_id": p, "quantity": 1} for p in product_ids],
        }
    )
    headers = {"Authorization": f"Bearer {shop.token}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(
        f"{server.url}/api/orders", data=body.encode(), headers=headers, method="POST"
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, got = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, got = error.code, error.read(), error.headers
    return status, json.loads(raw or b"{}"), got, time.monotonic() - started


def test_database_restart_under_load(shop, tmp_path):
    server = start_gunicorn(
        shop,
        tmp_path,
        WEB_CONCURRENCY=2,
        GUNICORN_THREADS=4,
        DB_POOL_TIMEOUT=2,
        DB_CONNECT_TIMEOUT=2,
        IDEMPOTENCY_LEASE_SECONDS=2,
    )
    statuses: Counter = Counter()
    slowest = [0.0]
    placed: dict[str, str] = {}
    unresolved: list[str] = []
    first_success_after_restart = []
    restarted_at = [None]
    stop = threading.Event()

    def client(number: int) -> None:
        while not stop.is_set():
            key = f"client{number}-{uuid.uuid4()}"
            deadline = time.monotonic() + 40
            while True:  # the same key until the order is placed or refused for good
                try:
                    status, body, headers, seconds = post_order(
                        server, shop, [shop.product_ids[number % 4]], key=key, timeout=15
                    )
                except OSError:
                    status, body, headers, seconds = 0, {}, {}, 0.0
                statuses[status] += 1
                slowest[0] = max(slowest[0], seconds)
                if status == 503:
                    assert body["type"].startswith("/problems/") and headers["Retry-After"]
                if status == 201:
                    placed[key] = body["public_id"]
                    if restarted_at[0] and not first_success_after_restart:
                        first_success_after_restart.append(time.monotonic() - restarted_at[0])
                    break
                if status == 409 and body["type"] == "/problems/insufficient-stock":
                    break
                if time.monotonic() > deadline:
                    unresolved.append(key)
                    break
                time.sleep(0.2)

    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            clients = [pool.submit(client, n) for n in range(6)]
            time.sleep(2)
            before_outage = len(placed)
            shop.server.stop()
            time.sleep(3)
            shop.server.start()
            restarted_at[0] = time.monotonic()
            time.sleep(6)
            stop.set()
            for future in clients:
                future.result()
    finally:
        server.stop()

    print(
        f"\nrestart under load: responses {dict(statuses)}, {len(placed)} orders placed, "
        f"slowest {slowest[0]:.2f} s, first success {first_success_after_restart} s "
        f"after the restart"
    )
    assert before_outage > 0
    assert statuses[500] == 0 and statuses[0] == 0, statuses
    assert statuses[503] > 0  # the outage was seen, and answered properly
    assert set(statuses) <= {201, 409, 503}, statuses
    assert slowest[0] < 8, f"a request hung for {slowest[0]:.1f} s"
    assert first_success_after_restart and first_success_after_restart[0] < 5
    assert unresolved == []
    # Every key that got a 201 is exactly one order, and no order lacks a 201.
    orders = shop.sql("SELECT public_id::text FROM orders")
    assert sorted(row[0] for row in orders) == sorted(placed.values())
    shop.ledger_holds()


def test_exhausted_pool_answers_503_quickly_and_recovers(shop, tmp_path):
    # One worker with 4 threads but one connection (a reserve that leaves 1).
    server = start_gunicorn(
        shop,
        tmp_path,
        WEB_CONCURRENCY=1,
        GUNICORN_THREADS=4,
        DB_POOL_RESERVED=96,
        DB_POOL_TIMEOUT=1,
        DB_LOCK_TIMEOUT_MS=4000,
    )
    hot = shop.product_ids[0]
    holder = psycopg.connect(shop.url)
    try:
        holder.execute("SELECT id FROM products WHERE id = %s FOR UPDATE", (hot,))
        with ThreadPoolExecutor(max_workers=4) as pool:
            first = pool.submit(post_order, server, shop, [hot])
            time.sleep(0.3)  # it holds the only connection, waiting for the row
            others = [
                pool.submit(post_order, server, shop, [shop.product_ids[1]]) for _ in range(3)
            ]
            waited = [future.result() for future in others]
            holder.rollback()
            status, _, _, _ = first.result()
        assert status == 201
        for status, body, headers, seconds in waited:
            assert (status, body["type"]) == (503, "/problems/pool-timeout")
            assert headers["Retry-After"]
            assert seconds < 1.9
        # Load gone: the next request goes through at once.
        status, _, _, seconds = post_order(server, shop, [shop.product_ids[1]])
        assert status == 201 and seconds < 1
    finally:
        holder.close()
        server.stop()
    shop.ledger_holds()


def order_while_row_locked(shop, tmp_path, product, **settings):
    """POST an order for ``product`` while another session holds its row lock."""
    server = start_gunicorn(shop, tmp_path, WEB_CONCURRENCY=1, GUNICORN_THREADS=2, **settings)
    holder = psycopg.connect(shop.url)
    try:
        holder.execute("SELECT id FROM products WHERE id = %s FOR UPDATE", (product,))
        return post_order(server, shop, [product])
    finally:
        holder.rollback()
        holder.close()
        server.stop()


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        # The statement limit runs out before the lock wait: the statement is cancelled.
        (
            {"DB_STATEMENT_TIMEOUT_MS": 300, "DB_LOCK_TIMEOUT_MS": 5000},
            (503, "/problems/statement-timeout"),
        ),
        # The lock wait runs out first: a conflict the client may retry.
        ({"DB_LOCK_TIMEOUT_MS": 300}, (409, "/problems/conflict")),
    ],
)
def test_statement_and_lock_timeouts_answer_cleanly(shop, tmp_path, settings, expected):
    product = shop.product_ids[2]
    orders_before = shop.sql("SELECT count(*) FROM orders")[0][0]
    stock_before = shop.sql("SELECT stock FROM products WHERE id = %s", (product,))[0][0]
    status, body, headers, seconds = order_while_row_locked(shop, tmp_path, product, **settings)
    assert (status, body["type"]) == expected
    assert headers["Retry-After"] and seconds < 2
    assert shop.sql("SELECT count(*) FROM orders")[0][0] == orders_before
    assert shop.sql("SELECT stock FROM products WHERE id = %s", (product,))[0][0] == stock_before


def test_worker_killed_mid_request_leaves_no_locks_and_no_order(shop, tmp_path):
    server = start_gunicorn(
        shop,
        tmp_path,
        WEB_CONCURRENCY=1,
        GUNICORN_THREADS=2,
        DB_LOCK_TIMEOUT_MS=30000,
        DB_STATEMENT_TIMEOUT_MS=60000,
    )
    free, held = sorted(shop.product_ids[:2])
    orders_before = shop.sql("SELECT count(*) FROM orders")[0][0]
    holder = psycopg.connect(shop.url)
    try:
        holder.execute("SELECT id FROM products WHERE id = %s FOR UPDATE", (held,))
        with ThreadPoolExecutor(max_workers=1) as pool:
            # Locks `free` (lower id first), then waits for `held`.
            pending = pool.submit(post_order, server, shop, [free, held], None, 30)
            waiting = []
            for _ in range(50):
                waiting = shop.sql(
                    "SELECT application_name FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND application_name LIKE 'stockroom:web:%'"
                )
                if waiting:
                    break
                time.sleep(0.1)
            assert waiting, "the order never reached the lock"
            worker_pid = int(waiting[0][0].split(":")[2])
            os.kill(worker_pid, signal.SIGKILL)
            with pytest.raises(OSError):  # the worker died: the connection just closes
                pending.result()
        # Within a few seconds the server has noticed and rolled the transaction back.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            left = shop.sql(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                (f"stockroom:web:{worker_pid}",),
            )[0][0]
            if not left:
                break
            time.sleep(0.2)
        assert left == 0
        holder.rollback()
        # `free` is not locked any more: gunicorn's new worker sells it at once.
        server.wait_ready()
        status, _, _, seconds = post_order(server, shop, [free])
        assert status == 201 and seconds < 2
    finally:
        holder.close()
        server.stop()
    assert shop.sql("SELECT count(*) FROM orders")[0][0] == orders_before + 1
    shop.ledger_holds()
