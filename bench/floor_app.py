"""The raw floor of the order benchmark: the classic order transaction in plain
psycopg under gunicorn, nothing else (no Flask, no authentication, no idempotency,
no instrumentation). ``gunicorn bench.floor_app:app`` with ``DATABASE_URL``.

It answers ``POST /api/orders`` with the body Stockroom takes
(``{"customer_id": .., "lines": [{"product_id": .., "quantity": ..}]}``): 201 with
the order id, or 409 ``insufficient-stock``; and ``GET /healthz``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable

import psycopg

_local = threading.local()

LOCK = "SELECT id, stock, price_cents FROM products WHERE id = ANY(%s) ORDER BY id FOR UPDATE"
TAKE = "UPDATE products SET stock = stock - %s WHERE id = %s"
ORDER = "INSERT INTO orders (customer_id, total_cents, item_count) VALUES (%s, %s, %s) RETURNING id"
LINE = (
    "INSERT INTO order_lines (order_id, product_id, quantity, unit_price_cents) "
    "VALUES (%s, %s, %s, %s)"
)
INSUFFICIENT = {"type": "/problems/insufficient-stock", "status": 409}


def _connection(url: str) -> psycopg.Connection:
    """This thread's connection (one per gunicorn thread, opened on first use)."""
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(url)
    return conn


def place_order(conn: psycopg.Connection, customer_id: int, lines: list[dict]) -> int | None:
    """The classic transaction: lock the products in id order, check, take, insert
    the order and its lines; the order id, or None (nothing written) when short."""
    wanted = {line["product_id"]: line["quantity"] for line in lines}
    with conn.transaction():
        rows = conn.execute(LOCK, [sorted(wanted)]).fetchall()
        if len(rows) != len(wanted) or any(stock < wanted[pid] for pid, stock, _p in rows):
            raise _Short
        for pid, _stock, _price in rows:
            conn.execute(TAKE, [wanted[pid], pid])
        total = sum(price * wanted[pid] for pid, _s, price in rows)
        order = conn.execute(ORDER, [customer_id, total, sum(wanted.values())]).fetchone()
        assert order is not None  # INSERT ... RETURNING returns the row
        for pid, _stock, price in rows:
            conn.execute(LINE, [order[0], pid, wanted[pid], price])
    return order[0]


class _Short(Exception):
    """Rolls the transaction back when a product is short or unknown."""


def create(url: str) -> Callable:
    """The WSGI app on the database at ``url``."""

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        def answer(status: str, body: dict) -> list[bytes]:
            data = json.dumps(body).encode()
            start_response(
                status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
            )
            return [data]

        if environ["PATH_INFO"] == "/healthz":
            return answer("200 OK", {"status": "ok"})
        if environ["PATH_INFO"] != "/api/orders" or environ["REQUEST_METHOD"] != "POST":
            return answer("404 Not Found", {"status": 404})
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length))
        try:
            order_id = place_order(_connection(url), body["customer_id"], body["lines"])
        except _Short:
            return answer("409 Conflict", INSUFFICIENT)
        return answer("201 Created", {"id": order_id})

    return app


def __getattr__(name: str):
    # ``app`` is built when gunicorn asks for it, from the environment.
    if name == "app":
        return create(os.environ["DATABASE_URL"])
    raise AttributeError(name)
