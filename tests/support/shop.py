"""A shop of its own for tests that stop, restart or squeeze PostgreSQL, PgBouncer
or gunicorn: a private cluster migrated to head, a customer, products, an API
token, and clients that place orders over real HTTP."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import flask_migrate
import psycopg
from builders import release_connections
from processes import Gunicorn, clean_env

from app import create_app
from app.api.tokens import issue_token
from app.catalog.models import Product
from app.config import sqlalchemy_url
from app.customers.models import Customer
from app.devdb.embedded import TEST_SETTINGS, EmbeddedPostgres
from app.extensions import db
from app.serving.jobs_process import JobsProcess

STOCK = 10_000


class Shop:
    """A cluster of its own with a customer, products and an API token."""

    def __init__(
        self,
        root: Path,
        *,
        settings: dict | None = None,
        database: str = "stockroom_faults",
        stocks: tuple[int, ...] = (STOCK,) * 4,
    ) -> None:
        self.server = EmbeddedPostgres(
            root / "pg", settings=TEST_SETTINGS | (settings or {}), database=database
        )
        self.server.start()
        self.url = self.server.libpq_url()
        self.stocks = stocks
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
                Product(sku=f"F-{i}", name=f"Fault {i}", price_cents=100, stock=stock)
                for i, stock in enumerate(stocks)
            ]
            db.session.add_all([customer, *products])
            _token, self.token = issue_token(db.session, "faults")
            db.session.flush()
            self.customer_id = customer.id
            self.product_ids = [p.id for p in products]
            db.session.commit()
        release_connections(app)

    def sql(self, statement: str, params=None):
        """Rows of one statement on a direct connection of its own."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def ledger_holds(self) -> None:
        """Stock received = sold (placed orders) + left, for every product; never negative."""
        rows = self.sql("""
            SELECT p.id, p.stock, coalesce(sum(l.quantity) FILTER (WHERE o.status = 'placed'), 0)
            FROM products p LEFT JOIN order_lines l ON l.product_id = p.id
            LEFT JOIN orders o ON o.id = l.order_id GROUP BY p.id ORDER BY p.id""")
        received = dict(zip(self.product_ids, self.stocks, strict=True))
        for product_id, stock, sold in rows:
            assert stock >= 0, (product_id, stock)
            assert stock + sold == received[product_id], (product_id, stock, sold)


def start_gunicorn(shop: Shop, tmp_path: Path, *, url: str | None = None, **settings) -> Gunicorn:
    """gunicorn on ``url`` (default: the shop's server), ready to serve."""
    env = clean_env(
        DATABASE_URL=url or shop.url,
        ACCESS_LOG="off",
        REQUEST_LOG="off",
        **{key: str(value) for key, value in settings.items()},
    )
    server = Gunicorn(env, tmp_path / f"gunicorn-{uuid.uuid4().hex[:6]}.log").start()
    server.wait_ready()
    return server


def start_jobs(shop: Shop, tmp_path: Path, *, url: str | None = None, **settings) -> JobsProcess:
    """``flask jobs run`` on ``url`` (default: the shop's server), started (it reports
    itself within DB_REPORT_INTERVAL)."""
    env = clean_env(
        DATABASE_URL=url or shop.url, **{key: str(value) for key, value in settings.items()}
    )
    return JobsProcess(env, log=tmp_path / f"jobs-{uuid.uuid4().hex[:6]}.log").start()


def post_order(server, shop, product_ids, key=None, timeout=30, quantity=1):
    """(status, body dict, headers, seconds) of one POST /api/orders."""
    body = json.dumps(
        {
            "customer_id": shop.customer_id,
            "lines": [{"product_id": p, "quantity": quantity} for p in product_ids],
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


class RetryingClients:
    """Clients that each place orders with an Idempotency-Key, retrying the same key
    until the answer is final (201, or 409 insufficient stock), as a careful client
    would through an outage. Records every status and every placed order."""

    def __init__(self, server, shop, *, deadline_seconds: float = 40) -> None:
        self.server = server
        self.shop = shop
        self.deadline_seconds = deadline_seconds
        self.statuses: Counter = Counter()
        self.slowest = 0.0
        self.placed: dict[str, str] = {}
        self.unresolved: list[str] = []
        self.bad_answers: list[tuple[int, dict, dict]] = []
        self.outage_ended_at: float | None = None
        self.first_success_after_outage: float | None = None
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._orders_before = {row[0] for row in shop.sql("SELECT public_id::text FROM orders")}

    def run(self, number: int) -> None:
        """One client's loop until :attr:`stop` is set."""
        while not self.stop.is_set():
            key = f"client{number}-{uuid.uuid4()}"
            deadline = time.monotonic() + self.deadline_seconds
            while True:  # the same key until the order is placed or refused for good
                product = self.shop.product_ids[number % len(self.shop.product_ids)]
                try:
                    status, body, headers, seconds = post_order(
                        self.server, self.shop, [product], key=key, timeout=15
                    )
                except OSError:
                    status, body, headers, seconds = 0, {}, {}, 0.0
                with self._lock:
                    self.statuses[status] += 1
                    self.slowest = max(self.slowest, seconds)
                    if status == 503 and not (
                        body.get("type", "").startswith("/problems/") and headers.get("Retry-After")
                    ):
                        self.bad_answers.append((status, body, dict(headers)))
                    if status == 201:
                        self.placed[key] = body["public_id"]
                        if self.outage_ended_at and self.first_success_after_outage is None:
                            self.first_success_after_outage = (
                                time.monotonic() - self.outage_ended_at
                            )
                if status == 201:
                    break
                if status == 409 and body["type"] == "/problems/insufficient-stock":
                    break
                if time.monotonic() > deadline:
                    self.unresolved.append(key)
                    break
                time.sleep(0.2)  # a careful client's pause before retrying the same key

    def orders_match_the_201s(self) -> None:
        """Every key that got a 201 is exactly one order, and no new order lacks a 201."""
        orders = self.shop.sql("SELECT public_id::text FROM orders")
        new = [row[0] for row in orders if row[0] not in self._orders_before]
        assert sorted(new) == sorted(self.placed.values())
