"""Rollups that cannot drift: every change to the orders that could alter a report's
answer is queued for the fold or refused by the database, with a clear error; a
TRUNCATE of the orders empties the rollups in the same transaction."""

from __future__ import annotations

import pytest
from builders import add_customer, add_product
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.orders.models import Order, OrderLine
from app.reports.rollups import upkeep

RESTRICT_VIOLATION = "23001"


def place(session, customer, product, quantity=2) -> Order:
    """An order with one line, written as the app writes them: in one transaction."""
    order = Order(
        customer_id=customer.id,
        total_cents=quantity * product.price_cents,
        item_count=quantity,
    )
    session.add(order)
    session.flush()
    session.add(
        OrderLine(
            order_id=order.id,
            product_id=product.id,
            quantity=quantity,
            unit_price_cents=product.price_cents,
        )
    )
    session.commit()
    return order


@pytest.fixture
def order(session):
    return place(session, add_customer(session), add_product(session, stock=100))


def refused(session, statement: str, **params) -> str:
    """The refusal's message; the statement changed nothing."""
    with pytest.raises(IntegrityError) as raised:
        session.execute(text(statement), params)
    session.rollback()
    assert raised.value.orig.sqlstate == RESTRICT_VIOLATION
    return str(raised.value.orig)


def test_an_order_is_never_deleted(session, order):
    message = refused(session, "DELETE FROM orders WHERE id = :id", id=order.id)
    assert "orders are never deleted: cancel the order instead" in message
    assert session.get(Order, order.id) is not None
    # A delete that matches nothing is no delete.
    session.execute(text("DELETE FROM orders WHERE id = -1"))


def test_an_orders_customer_and_time_never_change(session, order):
    other = add_customer(session)
    message = refused(
        session, "UPDATE orders SET customer_id = :c WHERE id = :id", c=other.id, id=order.id
    )
    assert "customer and placed time never change" in message
    refused(
        session,
        "UPDATE orders SET placed_at = placed_at - interval '1 day' WHERE id = :id",
        id=order.id,
    )
    # What the rollups follow through the queue is still allowed.
    session.execute(
        text("UPDATE orders SET total_cents = 1, status = 'cancelled' WHERE id = :id"),
        {"id": order.id},
    )
    queued = session.execute(
        text("SELECT sign FROM order_changes WHERE order_id = :id ORDER BY id"), {"id": order.id}
    ).scalars()
    assert list(queued) == [1, -1]  # placed, then its old values leave


def test_order_lines_are_never_changed_or_deleted(session, order):
    assert "never changed or deleted" in refused(
        session, "UPDATE order_lines SET quantity = 9 WHERE order_id = :id", id=order.id
    )
    refused(session, "DELETE FROM order_lines WHERE order_id = :id", id=order.id)
    quantities = session.execute(
        text("SELECT quantity FROM order_lines WHERE order_id = :id"), {"id": order.id}
    )
    assert list(quantities.scalars()) == [2]


def test_a_line_comes_with_its_order_not_after_its_fold(session, order):
    product = add_product(session)
    add_line = (
        "INSERT INTO order_lines (order_id, product_id, quantity, unit_price_cents)"
        " VALUES (:order_id, :product_id, 1, 100)"
    )
    # Its order's change still queued: the fold will read the line with the order.
    session.execute(text(add_line), {"order_id": order.id, "product_id": product.id})
    session.commit()
    assert upkeep.fold_queue(session) >= 1
    message = refused(session, add_line, order_id=order.id, product_id=add_product(session).id)
    assert f"order {order.id} is already placed" in message


def test_truncating_the_orders_empties_the_rollups_with_them(session, order):
    upkeep.fold_queue(session)
    assert session.execute(text("SELECT count(*) FROM sales_days")).scalar() == 1
    session.execute(text("TRUNCATE orders, order_lines"))
    counts = session.execute(
        text(
            "SELECT (SELECT count(*) FROM sales_days), (SELECT count(*) FROM order_changes),"
            " (SELECT count(*) FROM customer_activity)"
        )
    ).one()
    assert tuple(counts) == (0, 0, 0)
    assert upkeep.progress(session).historic_through_id == 0


def test_the_lines_are_not_truncated_without_their_orders(session, order):
    assert "only truncated with their orders" in refused(session, "TRUNCATE order_lines")
