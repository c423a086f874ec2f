"""Bearer tokens on /api."""

from datetime import UTC, datetime

import pytest
from builders import add_customer, add_product
from sqlalchemy import func, select

from app.api.models import ApiToken
from app.orders.models import Order


def test_openapi_document_is_public(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.json["openapi"].startswith("3.1")
    assert "/api/orders" in response.json["paths"]


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer",
        "Bearer nope",
        "Basic dXNlcjpwYXNz",
        "Bearer sr_deadbeef_wrong-secret",
    ],
)
def test_requests_without_a_valid_token_are_401(client, session, authorization):
    add_product(session)
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/api/products", headers=headers)
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_stops_working_at_once(api, session):
    assert api.get("/api/products").status_code == 200
    token = session.scalar(select(ApiToken))
    token.revoked_at = datetime.now(UTC)
    session.flush()
    assert api.get("/api/products").status_code == 401


def test_a_tampered_secret_with_a_real_prefix_is_refused(api, client):
    real = api.headers["Authorization"]
    tampered = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    assert client.get("/api/products", headers={"Authorization": tampered}).status_code == 401


def test_last_use_is_recorded(api, session):
    api.get("/api/products")
    token = session.scalar(select(ApiToken))
    session.refresh(token)
    assert token.last_used_at is not None


def revoke_all(session):
    for token in session.scalars(select(ApiToken)):
        token.revoked_at = datetime.now(UTC)
    session.flush()


# Placing an order checks the token inside the order's own statement: every way an
# order can be placed must refuse a revoked token and write nothing.
ORDER_SHAPES = {
    "pessimistic, one line": ({"locking": "pessimistic"}, 1, {}),
    "pessimistic, two lines": ({"locking": "pessimistic"}, 2, {}),
    "optimistic": ({"locking": "optimistic"}, 1, {}),
    "with an Idempotency-Key": ({}, 1, {"Idempotency-Key": "revoked-1"}),
}


@pytest.mark.parametrize("shape", ORDER_SHAPES)
def test_a_revoked_token_places_no_order(api, session, shape):
    extra, line_count, headers = ORDER_SHAPES[shape]
    customer = add_customer(session)
    products = [add_product(session, stock=5) for _ in range(line_count)]
    body = {
        "customer_id": customer.id,
        "lines": [{"product_id": p.id, "quantity": 1} for p in products],
        **extra,
    }
    assert api.post("/api/orders", json=body, headers=headers).status_code == 201
    revoke_all(session)

    response = api.post(
        "/api/orders", json=body, headers={"Idempotency-Key": "revoked-2"} if headers else {}
    )
    assert response.status_code == 401, response.json
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert session.scalar(select(func.count()).select_from(Order)) == 1
    for product in products:
        session.refresh(product)
        assert product.stock == 4


@pytest.mark.parametrize(
    "body",
    [
        {"customer_id": 1, "lines": []},  # 422 for a live token
        {"customer_id": 1, "lines": [{"product_id": 999_999, "quantity": 1}]},  # 404
    ],
)
def test_a_revoked_token_is_401_before_the_order_is_judged(api, session, body):
    api.get("/api/products")
    revoke_all(session)
    response = api.post("/api/orders", json=body)
    assert response.status_code == 401
    response = api.post("/api/orders", data="not json", content_type="application/json")
    assert response.status_code == 401


def test_a_sold_out_order_with_a_live_token_says_why(api, session):
    customer = add_customer(session)
    product = add_product(session, stock=0)
    body = {"customer_id": customer.id, "lines": [{"product_id": product.id, "quantity": 1}]}
    response = api.post("/api/orders", json=body)
    assert response.status_code == 409
    assert response.json["type"] == "/problems/insufficient-stock"
