"""Placing, reading and cancelling orders over /api (one connection, rolled back)."""

import pytest
from builders import add_customer, add_product
from sqlalchemy import func, select
from statements import counting_statements

from app.orders.models import Order, OrderLine

STRATEGIES = ["pessimistic", "optimistic"]


def order_body(customer, *lines, **extra):
    return {
        "customer_id": customer.id,
        "lines": [{"product_id": p.id, "quantity": q} for p, q in lines],
        **extra,
    }


@pytest.mark.parametrize("locking", STRATEGIES)
def test_placing_an_order_takes_stock_and_returns_it(api, session, locking):
    customer = add_customer(session)
    hammer = add_product(session, stock=5, price_cents=1250)
    nails = add_product(session, stock=100, price_cents=3)
    response = api.post(
        "/api/orders", json=order_body(customer, (hammer, 2), (nails, 50), locking=locking)
    )
    assert response.status_code == 201
    body = response.json
    assert body["total_cents"] == 2 * 1250 + 50 * 3
    assert body["status"] == "placed"
    assert response.headers["Location"] == f"/api/orders/{body['public_id']}"
    session.refresh(hammer)
    session.refresh(nails)
    assert (hammer.stock, nails.stock) == (3, 50)
    shown = api.get(response.headers["Location"])
    assert shown.status_code == 200
    assert shown.json == body


@pytest.mark.parametrize("locking", STRATEGIES)
def test_statement_count_does_not_grow_with_lines(api, session, engine, locking):
    customer = add_customer(session)
    products = [add_product(session, stock=100) for _ in range(20)]
    api.get("/api/products")  # the token's first use is recorded once; keep it out

    bodies = [
        order_body(customer, *[(p, 1) for p in lines], locking=locking)
        for lines in (products[:1], products)
    ]

    def statements_for(body):
        with counting_statements(engine) as statements:
            response = api.post("/api/orders", json=body)
        assert response.status_code == 201
        return statements

    one, twenty = (statements_for(body) for body in bodies)
    assert len(one) == len(twenty)
    if locking == "pessimistic":
        # one statement checks the token, locks, checks, takes stock, writes order + lines
        assert len(one) == 1, one
    else:
        # token lookup, read the products, take stock and write order + lines
        assert len(one) == 3, one


def test_insufficient_stock_names_the_product_and_writes_nothing(api, session):
    customer = add_customer(session)
    plenty = add_product(session, stock=50)
    scarce = add_product(session, stock=2)
    response = api.post("/api/orders", json=order_body(customer, (plenty, 5), (scarce, 3)))
    assert response.status_code == 409
    assert response.json["type"] == "/problems/insufficient-stock"
    assert (
        response.json["product_id"],
        response.json["requested"],
        response.json["available"],
    ) == (scarce.id, 3, 2)
    session.refresh(plenty)
    assert plenty.stock == 50
    assert session.scalar(select(func.count()).select_from(Order)) == 0


def test_unknown_customer_and_product_are_404(api, session):
    customer = add_customer(session)
    product = add_product(session)
    ghost = api.post(
        "/api/orders",
        json={"customer_id": 987654, "lines": [{"product_id": product.id, "quantity": 1}]},
    )
    assert ghost.status_code == 404
    assert ghost.json["type"] == "/problems/unknown-customer"
    missing = api.post(
        "/api/orders",
        json={"customer_id": customer.id, "lines": [{"product_id": 987654, "quantity": 1}]},
    )
    assert missing.status_code == 404
    assert missing.json["product_id"] == 987654
    session.refresh(product)
    assert product.stock == 10


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lines": [{"product_id": 1, "quantity": 1}]}, "customer_id"),
        ({"customer_id": "1", "lines": [{"product_id": 1, "quantity": 1}]}, "customer_id"),
        ({"customer_id": True, "lines": [{"product_id": 1, "quantity": 1}]}, "customer_id"),
        ({"customer_id": 2**63, "lines": [{"product_id": 1, "quantity": 1}]}, "customer_id"),
        ({"customer_id": 1, "lines": []}, "lines"),
        ({"customer_id": 1, "lines": "all of them"}, "lines"),
        (
            {"customer_id": 1, "lines": [{"product_id": i, "quantity": 1} for i in range(1, 102)]},
            "lines",
        ),
        ({"customer_id": 1, "lines": [{"product_id": 1, "quantity": 0}]}, "lines[0].quantity"),
        ({"customer_id": 1, "lines": [{"product_id": 1, "quantity": -3}]}, "lines[0].quantity"),
        ({"customer_id": 1, "lines": [{"product_id": 1, "quantity": 10**12}]}, "lines[0].quantity"),
        ({"customer_id": 1, "lines": [{"product_id": 1, "quantity": 2.5}]}, "lines[0].quantity"),
        ({"customer_id": 1, "lines": [{"product_id": None, "quantity": 1}]}, "lines[0].product_id"),
        ({"customer_id": 1, "lines": ["p1"]}, "lines[0]"),
        (
            {"customer_id": 1, "lines": [{"product_id": 1, "quantity": 1, "price": 0}]},
            "lines[0].price",
        ),
        (
            {
                "customer_id": 1,
                "lines": [{"product_id": 1, "quantity": 1}, {"product_id": 1, "quantity": 2}],
            },
            "lines[1].product_id",
        ),
        (
            {"customer_id": 1, "lines": [{"product_id": 1, "quantity": 1}], "locking": "yolo"},
            "locking",
        ),
        (
            {"customer_id": 1, "lines": [{"product_id": 1, "quantity": 1}], "coupon": "FREE"},
            "coupon",
        ),
    ],
)
def test_invalid_orders_are_422_with_the_field(api, session, body, field):
    response = api.post("/api/orders", json=body)
    assert response.status_code == 422
    assert field in {error["field"] for error in response.json["errors"]}
    assert session.scalar(select(func.count()).select_from(Order)) == 0


def test_malformed_and_oversized_bodies(api):
    malformed = api.post("/api/orders", data="{", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400
    wrong_type = api.post("/api/orders", data="customer_id=1")
    assert wrong_type.status_code == 415
    huge = api.post(
        "/api/orders",
        data="[" + "1," * 600_000 + "1]",
        headers={"Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    assert huge.content_type == "application/problem+json"


def test_cancel_restores_stock_exactly_once(api, session):
    customer = add_customer(session)
    product = add_product(session, stock=10)
    placed = api.post("/api/orders", json=order_body(customer, (product, 4))).json
    url = f"/api/orders/{placed['public_id']}/cancel"
    first = api.post(url)
    assert first.status_code == 200
    assert first.json["status"] == "cancelled"
    assert first.json["cancelled_at"]
    again = api.post(url)
    assert again.status_code == 200
    assert again.json == first.json
    session.refresh(product)
    assert product.stock == 10


@pytest.mark.parametrize("public_id", ["00000000-0000-4000-8000-000000000000", "not-a-uuid"])
def test_unknown_orders_are_404(api, public_id):
    assert api.get(f"/api/orders/{public_id}").status_code == 404
    assert api.post(f"/api/orders/{public_id}/cancel").status_code == 404


def test_order_lines_are_stored_with_their_prices(api, session):
    customer = add_customer(session)
    product = add_product(session, price_cents=999)
    placed = api.post("/api/orders", json=order_body(customer, (product, 3))).json
    line = session.scalar(select(OrderLine))
    assert (line.product_id, line.quantity, line.unit_price_cents) == (product.id, 3, 999)
    assert placed["lines"] == [{"product_id": product.id, "quantity": 3, "unit_price_cents": 999}]


def test_orders_record_their_item_count(api, session):
    customer = add_customer(session)
    a, b = add_product(session, stock=50), add_product(session, stock=50)
    placed = api.post("/api/orders", json=order_body(customer, (a, 3), (b, 4))).json
    order = session.scalar(select(Order).where(Order.public_id == placed["public_id"]))
    assert order.item_count == 7
    assert order.cancelled_by_id is None


@pytest.mark.parametrize("locking", STRATEGIES)
def test_every_short_line_is_reported_and_nothing_is_taken(api, session, locking):
    customer = add_customer(session)
    plenty, short_a, short_b = (add_product(session, stock=s) for s in (50, 2, 0))
    response = api.post(
        "/api/orders",
        json=order_body(customer, (short_b, 1), (plenty, 5), (short_a, 3), locking=locking),
    )
    assert response.status_code == 409
    shortages = {
        s["product_id"]: (s["requested"], s["available"]) for s in response.json["shortages"]
    }
    assert shortages == {short_a.id: (3, 2), short_b.id: (1, 0)}
    for product, stock in ((plenty, 50), (short_a, 2), (short_b, 0)):
        session.refresh(product)
        assert product.stock == stock
    assert session.scalar(select(func.count()).select_from(Order)) == 0


@pytest.mark.parametrize("locking", STRATEGIES)
def test_an_unknown_product_among_several_is_named_and_nothing_is_taken(api, session, locking):
    customer = add_customer(session)
    known = add_product(session, stock=5)
    gone = add_product(session, stock=5)
    gone.deleted_at = func.now()  # soft-deleted: unknown to orders
    session.commit()
    response = api.post(
        "/api/orders",
        json={
            "customer_id": customer.id,
            "locking": locking,
            "lines": [
                {"product_id": known.id, "quantity": 1},
                {"product_id": gone.id, "quantity": 1},
                {"product_id": 987654, "quantity": 1},
            ],
        },
    )
    assert response.status_code == 404
    assert response.json["type"] == "/problems/unknown-product"
    assert set(response.json["product_ids"]) == {gone.id, 987654}
    session.refresh(known)
    assert known.stock == 5


@pytest.mark.parametrize("locking", STRATEGIES)
def test_an_unknown_customer_takes_nothing(api, session, locking):
    product = add_product(session, stock=5)
    response = api.post(
        "/api/orders",
        json={
            "customer_id": 987654,
            "locking": locking,
            "lines": [{"product_id": product.id, "quantity": 2}],
        },
    )
    assert (response.status_code, response.json["type"]) == (404, "/problems/unknown-customer")
    session.refresh(product)
    assert product.stock == 5
    assert session.scalar(select(func.count()).select_from(Order)) == 0


@pytest.mark.parametrize("locking", STRATEGIES)
def test_a_one_line_order_past_the_stock_says_what_is_left(api, session, locking):
    customer = add_customer(session)
    product = add_product(session, stock=3, price_cents=700)
    short = api.post("/api/orders", json=order_body(customer, (product, 4), locking=locking))
    assert short.status_code == 409
    assert short.json["shortages"] == [{"product_id": product.id, "requested": 4, "available": 3}]
    placed = api.post("/api/orders", json=order_body(customer, (product, 3), locking=locking))
    assert placed.status_code == 201
    assert (placed.json["total_cents"], placed.json["lines"][0]["unit_price_cents"]) == (2100, 700)
    session.refresh(product)
    assert product.stock == 0
