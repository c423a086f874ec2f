"""Idempotency-Key on POST /api/orders (sequential behaviour; concurrency is in
test_concurrency.py)."""

import pytest
from builders import add_customer, add_product
from sqlalchemy import func, select, text, update

from app.api import idempotency
from app.api.models import ApiToken, IdempotencyRecord
from app.orders.models import Order


def count_orders(session):
    return session.scalar(select(func.count()).select_from(Order))


@pytest.fixture
def shop(session):
    return add_customer(session), add_product(session, stock=10)


def body(shop, quantity=1):
    customer, product = shop
    return {"customer_id": customer.id, "lines": [{"product_id": product.id, "quantity": quantity}]}


def test_same_key_same_body_replays_and_creates_one_order(api, session, shop):
    headers = {"Idempotency-Key": "order-123"}
    first = api.post("/api/orders", json=body(shop), headers=headers)
    second = api.post("/api/orders", json=body(shop), headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json == first.json
    assert second.headers["Location"] == first.headers["Location"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert count_orders(session) == 1
    session.refresh(shop[1])
    assert shop[1].stock == 9


def test_same_key_different_body_is_422(api, session, shop):
    headers = {"Idempotency-Key": "order-456"}
    assert api.post("/api/orders", json=body(shop, 1), headers=headers).status_code == 201
    reused = api.post("/api/orders", json=body(shop, 2), headers=headers)
    assert reused.status_code == 422
    assert reused.json["type"] == "/problems/idempotency-key-reused"
    assert count_orders(session) == 1


def test_keys_are_per_token(api, client, session, shop):
    from builders import bearer

    other = bearer(session, "other client")
    key = {"Idempotency-Key": "shared-key"}
    assert api.post("/api/orders", json=body(shop), headers=key).status_code == 201
    theirs = client.post("/api/orders", json=body(shop), headers={**other, **key})
    assert theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert count_orders(session) == 2


def test_a_refused_order_is_replayed_too(api, session, shop):
    headers = {"Idempotency-Key": "too-many"}
    first = api.post("/api/orders", json=body(shop, 50), headers=headers)
    assert first.status_code == 409
    # Even after a restock, the key keeps its first answer (use a new key to retry).
    api.post(f"/api/products/{shop[1].id}/restock", json={"quantity": 100})
    again = api.post("/api/orders", json=body(shop, 50), headers=headers)
    assert again.status_code == 409
    assert again.json == first.json
    assert count_orders(session) == 0


def test_a_running_request_with_the_key_is_409_until_its_lease_ends(app, api, session, shop):
    payload = body(shop)
    with app.test_request_context("/api/orders", method="POST"):
        fingerprint = idempotency.fingerprint(payload)
    token_id = session.scalar(select(ApiToken.id))
    session.add(
        IdempotencyRecord(
            token_id=token_id,
            key="busy",
            request_fingerprint=fingerprint,
            state="running",
            expires_at=func.now() + text("interval '1 h'"),
        )
    )
    session.commit()

    busy = api.post("/api/orders", json=payload, headers={"Idempotency-Key": "busy"})
    assert busy.status_code == 409
    assert busy.json["type"] == "/problems/idempotency-in-progress"
    assert busy.headers["Retry-After"]
    assert count_orders(session) == 0

    # The process handling it died: after the lease the same request may take over.
    session.execute(
        update(IdempotencyRecord).values(created_at=func.now() - text("interval '10 minutes'"))
    )
    session.commit()
    taken_over = api.post("/api/orders", json=payload, headers={"Idempotency-Key": "busy"})
    assert taken_over.status_code == 201
    assert count_orders(session) == 1


def test_an_expired_key_can_be_used_again(api, session, shop):
    headers = {"Idempotency-Key": "old-key"}
    assert api.post("/api/orders", json=body(shop), headers=headers).status_code == 201
    session.execute(
        update(IdempotencyRecord).values(expires_at=func.now() - text("interval '1 s'"))
    )
    session.commit()
    again = api.post("/api/orders", json=body(shop), headers=headers)
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert count_orders(session) == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve", "has space"])
def test_malformed_keys_are_422(api, shop, key):
    response = api.post("/api/orders", json=body(shop), headers={"Idempotency-Key": key})
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "Idempotency-Key"


def test_purge_removes_only_expired_records(api, session, shop, runner):
    api.post("/api/orders", json=body(shop), headers={"Idempotency-Key": "keep"})
    api.post("/api/orders", json=body(shop), headers={"Idempotency-Key": "drop"})
    session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.key == "drop")
        .values(expires_at=func.now() - text("interval '1 s'"))
    )
    session.commit()
    result = runner.invoke(args=["purge-idempotency-keys"])
    assert result.exit_code == 0, result.output
    assert "deleted 1 expired" in result.output
    assert session.scalars(select(IdempotencyRecord.key)).all() == ["keep"]
