"""The order benchmark's comparison apps place real orders: the raw psycopg floor
and the textbook ORM endpoint take stock and write the order with its lines, and
write nothing when a product is short (or their figures would mean nothing)."""

from __future__ import annotations

import pytest
from builders import add_customer, add_product, release_connections
from sqlalchemy import func, select
from werkzeug.test import Client

from app.catalog.models import Product
from app.orders.models import Order, OrderLine
from bench import floor_app, orm_app


@pytest.fixture(params=["floor", "orm"])
def bench_app(request, committed, server_url):
    if request.param == "floor":
        yield Client(floor_app.create(server_url))
        conn = getattr(floor_app._local, "conn", None)
        if conn is not None:
            conn.close()
    else:
        app = orm_app.create(server_url, pool_size=2)
        yield app.test_client()
        release_connections(app)


def test_an_order_takes_stock_and_writes_its_lines(bench_app, committed):
    with committed.sessions() as session:
        customer = add_customer(session)
        a, b = add_product(session, stock=5, price_cents=300), add_product(session, stock=5)
        ids = (customer.id, a.id, b.id)
    lines = [{"product_id": ids[2], "quantity": 2}, {"product_id": ids[1], "quantity": 1}]
    response = bench_app.post("/api/orders", json={"customer_id": ids[0], "lines": lines})
    assert response.status_code == 201
    order_id = response.get_json()["id"]
    with committed.sessions() as session:
        order = session.get(Order, order_id)
        assert (order.total_cents, order.item_count) == (300 + 2 * 1000, 3)
        stocks = session.execute(
            select(Product.id, Product.stock).where(Product.id.in_(ids[1:]))
        ).all()
        assert dict(stocks) == {ids[1]: 4, ids[2]: 3}
        assert session.scalar(select(func.count()).where(OrderLine.order_id == order_id)) == 2


def test_a_short_product_writes_nothing(bench_app, committed):
    with committed.sessions() as session:
        customer = add_customer(session)
        a, b = add_product(session, stock=5), add_product(session, stock=1)
        ids = (customer.id, a.id, b.id)
    lines = [{"product_id": ids[1], "quantity": 1}, {"product_id": ids[2], "quantity": 2}]
    response = bench_app.post("/api/orders", json={"customer_id": ids[0], "lines": lines})
    assert response.status_code == 409
    assert response.get_json()["type"] == "/problems/insufficient-stock"
    with committed.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 0
        assert session.get(Product, ids[1]).stock == 5
