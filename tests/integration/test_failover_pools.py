"""A pool whose server turns read-only or goes away is dropped as a whole (each
connection is replaced at its next checkout), and the request that found out
answers 503 with Retry-After, never 500, with nothing half-written
(app/db/failover.py).

The read-only server is a scratch database with ``default_transaction_read_only``
set for it: what a primary fenced for a failover, or a standby, answers to writes
(SQLSTATE 25006), and what its connections report to the app."""

from __future__ import annotations

import json

import flask_migrate
import psycopg
import pytest
from api_client import ApiClient
from builders import add_customer, add_product, bearer
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from waiting import wait_until

from app.extensions import db
from app.reports.runner import _in_read_only_transaction

POOL_SIZE = 3


def pool_pids(app) -> set[int]:
    """The server pids of POOL_SIZE connections checked out of the app's pool at once."""
    with app.app_context():
        connections = [db.engine.connect() for _ in range(POOL_SIZE)]
        try:
            return {c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in connections}
        finally:
            for connection in connections:
                connection.close()


def alive(url: str, pids: set[int]) -> set[int]:
    """Those of ``pids`` still connected to the server."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", (list(pids),)
        ).fetchall()
    return {row[0] for row in rows}


class Shop:
    """A migrated scratch database with a customer, a product and an API token, and an
    app on it with a pool of POOL_SIZE (never pinged: a dead connection is used)."""

    def __init__(self, make_app, url: str) -> None:
        self.url = url
        self.app = make_app(url, GUNICORN_THREADS=POOL_SIZE, DB_PING_IDLE_MS=600_000)
        with self.app.app_context():
            flask_migrate.upgrade()
            self.customer_id = add_customer(db.session).id
            self.product_id = add_product(db.session, stock=5).id
            self.headers = bearer(db.session)
            db.session.remove()
        self.api = ApiClient(self.app, self.app.test_client(), headers=self.headers)

    def order(self):
        """POST /api/orders for one unit of the product."""
        body = {
            "customer_id": self.customer_id,
            "lines": [{"product_id": self.product_id, "quantity": 1}],
        }
        return self.api.post(
            "/api/orders", data=json.dumps(body), headers={"Content-Type": "application/json"}
        )

    def sql(self, statement: str, params=None) -> list:
        with psycopg.connect(self.url, autocommit=True) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def make_read_only(self) -> None:
        """New connections to the database are read-only; the pool is emptied so that
        all of its connections are such."""
        name = make_url(self.url).database
        self.sql(
            sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(
                sql.Identifier(name)
            )
        )
        with self.app.app_context():
            db.engine.dispose()


@pytest.fixture
def shop(make_app, make_database):
    return Shop(make_app, make_database())


def test_a_write_on_a_read_only_server_is_a_503_and_the_whole_pool_is_replaced(shop):
    shop.make_read_only()
    before = pool_pids(shop.app)
    assert len(before) == POOL_SIZE

    answer = shop.order()

    assert answer.status_code == 503, answer.text
    assert answer.content_type == "application/problem+json"
    assert answer.json["type"] == "/problems/database-read-only"
    assert int(answer.headers["Retry-After"]) > 0
    # Every connection opened before the failure is replaced, not only the one that hit it.
    after = pool_pids(shop.app)
    assert len(after) == POOL_SIZE
    assert not before & after, (before, after)
    wait_until(lambda: not alive(shop.url, before), message="old pooled connections stayed open")
    # Nothing half-written: no order, no line, the stock untouched.
    assert shop.sql("SELECT count(*) FROM orders")[0][0] == 0
    assert shop.sql("SELECT count(*) FROM order_lines")[0][0] == 0
    assert shop.sql("SELECT stock FROM products WHERE id = %s", (shop.product_id,))[0][0] == 5


def test_the_app_writes_again_once_the_server_takes_writes(shop):
    shop.make_read_only()
    assert shop.order().status_code == 503
    name = make_url(shop.url).database
    with psycopg.connect(shop.url, autocommit=True) as conn:
        conn.execute("SET default_transaction_read_only = off")  # this session only
        conn.execute(
            sql.SQL("ALTER DATABASE {} RESET default_transaction_read_only").format(
                sql.Identifier(name)
            )
        )
    # The pool was dropped: the next connections are new ones, which take writes.
    assert shop.order().status_code == 201
    assert shop.sql("SELECT stock FROM products WHERE id = %s", (shop.product_id,))[0][0] == 4


def test_a_read_only_transaction_of_the_app_itself_keeps_the_pool(shop):
    before = pool_pids(shop.app)
    with shop.app.app_context(), pytest.raises(DBAPIError, match="read-only transaction"):
        _in_read_only_transaction(lambda conn: conn.execute(text("DELETE FROM orders")))
    # A report refused a write: the server is fine, its connections stay.
    assert pool_pids(shop.app) == before


def test_a_connection_killed_by_the_server_drops_the_whole_pool(shop):
    before = pool_pids(shop.app)
    with shop.app.app_context(), db.engine.connect() as victim:
        pid = victim.execute(text("SELECT pg_backend_pid()")).scalar_one()
        victim.rollback()
        shop.sql("SELECT pg_terminate_backend(%s)", (pid,))
        wait_until(lambda: not alive(shop.url, {pid}), message="the backend outlived its kill")
        with pytest.raises(DBAPIError) as failed:
            victim.execute(text("SELECT 1"))
        assert failed.value.connection_invalidated
    after = pool_pids(shop.app)
    assert not before & after, (before, after)
