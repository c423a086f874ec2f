"""JSON API for orders: /api/orders."""

from __future__ import annotations

import logging

from flask import Response, current_app, g, json, url_for

from app.api import idempotency
from app.api.blueprint import bp
from app.api.problems import problem_for
from app.api.validation import MAX_BIGINT, Errors, json_object
from app.db.instrumentation import stats
from app.db.transactions import (
    ConflictPersists,
    LockWaitTimeout,
    RetryPolicy,
    run_in_transaction,
)
from app.errors import RETRY_AFTER_SECONDS, problem
from app.extensions import db
from app.orders.models import Order
from app.orders.service import (
    LOCKING_STRATEGIES,
    LineRequest,
    OrderError,
    OrderRequest,
    PlacedOrder,
    cancel_order,
    get_order,
    place_order,
)

log = logging.getLogger(__name__)

MAX_LINES = 100
# Keeps every total far inside bigint: 100 lines x 1e6 units x 2^31 cents < 2^63.
MAX_QUANTITY = 1_000_000


def order_json(order: Order | PlacedOrder) -> dict:
    """An order with its lines, as the API shows it."""
    return {
        "public_id": str(order.public_id),
        "customer_id": order.customer_id,
        "status": order.status,
        "total_cents": order.total_cents,
        "placed_at": order.placed_at.isoformat(),
        "cancelled_at": order.cancelled_at.isoformat() if order.cancelled_at else None,
        "lines": [
            {
                "product_id": line.product_id,
                "quantity": line.quantity,
                "unit_price_cents": line.unit_price_cents,
            }
            for line in order.lines
        ],
    }


def order_request(payload: dict) -> OrderRequest:
    """Validate a POST /api/orders body. Repeated products are refused, not merged:
    a client sending the same product twice most likely has a bug worth seeing."""
    errors = Errors()
    errors.unknown_fields(payload, {"customer_id", "lines", "locking"})
    if "customer_id" not in payload:
        errors.add("customer_id", "is required")
    customer_id = errors.integer(
        payload.get("customer_id"), "customer_id", minimum=1, maximum=MAX_BIGINT
    )
    locking = payload.get("locking", current_app.config["ORDER_LOCKING"])
    if locking not in LOCKING_STRATEGIES:
        errors.add("locking", f"must be one of: {', '.join(LOCKING_STRATEGIES)}")
    lines = payload.get("lines")
    parsed: list[LineRequest] = []
    if not isinstance(lines, list) or not 1 <= len(lines) <= MAX_LINES:
        errors.add("lines", f"must be a list of 1 to {MAX_LINES} lines")
        lines = []
    seen: set[int] = set()
    for index, line in enumerate(lines):
        field = f"lines[{index}]"
        if not isinstance(line, dict):
            errors.add(field, "must be an object with product_id and quantity")
            continue
        errors.unknown_fields(line, {"product_id", "quantity"}, prefix=f"{field}.")
        product_id = errors.integer(
            line.get("product_id"), f"{field}.product_id", minimum=1, maximum=MAX_BIGINT
        )
        quantity = errors.integer(
            line.get("quantity"), f"{field}.quantity", minimum=1, maximum=MAX_QUANTITY
        )
        if product_id in seen:
            errors.add(f"{field}.product_id", "appears in an earlier line; combine the lines")
        elif product_id is not None and quantity is not None:
            seen.add(product_id)
            parsed.append(LineRequest(product_id, quantity))
    errors.raise_if_any()
    return OrderRequest(customer_id=customer_id, lines=tuple(parsed), locking=locking)


def created(order: PlacedOrder) -> Response:
    """201 with the order and its Location."""
    return Response(
        json.dumps(order_json(order)),
        status=201,
        mimetype="application/json",
        headers={"Location": url_for("api.orders_show", public_id=str(order.public_id))},
    )


def retry_policy() -> RetryPolicy:
    """Retries for deadlocks, serialization failures and stale optimistic reads."""
    return RetryPolicy(attempts=current_app.config["ORDER_RETRY_ATTEMPTS"])


def place(request_: OrderRequest, record_id: int | None) -> Response:
    """Place the order in one transaction; with a key, store the response in it too."""
    attempts = []

    def work(session):
        response = created(place_order(session, request_))
        if record_id is not None:
            idempotency.complete(session, record_id, response)
        return response

    try:
        response = run_in_transaction(
            db.session, work, retry=retry_policy(), on_retry=attempts.append
        )
    except (ConflictPersists, LockWaitTimeout):
        stats.record_order("conflict", len(attempts))
        raise
    except OrderError as error:
        # The same request would fail the same way now: keep the answer for replays.
        stats.record_order(error.outcome, len(attempts))
        response = problem_for(error)
        if record_id is not None:
            run_in_transaction(
                db.session, lambda session: idempotency.complete(session, record_id, response)
            )
    else:
        stats.record_order("placed", len(attempts))
    response.headers["Order-Retries"] = str(len(attempts))
    return response


@bp.post("/orders")
def orders_create():
    """Place an order; see the contract for statuses and the Idempotency-Key rules."""
    payload = json_object()
    request_ = order_request(payload)
    key = idempotency.key_from_request()
    if key is None:
        return place(request_, record_id=None)

    config = current_app.config
    claim = run_in_transaction(
        db.session,
        lambda session: idempotency.claim(
            session,
            token_id=g.api_token_id,
            key=key,
            fingerprint=idempotency.fingerprint(payload),
            ttl_seconds=config["IDEMPOTENCY_TTL_SECONDS"],
            lease_seconds=config["IDEMPOTENCY_LEASE_SECONDS"],
        ),
    )
    if claim.outcome == "replay":
        return claim.replay()
    if claim.outcome == "mismatch":
        return problem(
            422,
            "Idempotency-Key reused",
            "This Idempotency-Key was used for a different request; use a new key.",
            type_="idempotency-key-reused",
        )
    if claim.outcome == "in-progress":
        return problem(
            409,
            "Request in progress",
            "A request with this Idempotency-Key is still being processed; retry shortly.",
            type_="idempotency-in-progress",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    try:
        return place(request_, record_id=claim.record_id)
    except Exception:
        # Conflicts and server trouble: free the key so the same request can retry.
        try:
            run_in_transaction(
                db.session, lambda session: idempotency.release(session, claim.record_id)
            )
        except Exception:
            log.exception("could not release Idempotency-Key %r (the lease will expire)", key)
        raise


@bp.get("/orders/<public_id>")
def orders_show(public_id: str):
    """One order with its lines."""
    return order_json(get_order(db.session, public_id))


@bp.post("/orders/<public_id>/cancel")
def orders_cancel(public_id: str):
    """Cancel an order, restoring its stock exactly once; repeating it is harmless."""

    def work(session):
        order, _cancelled_now = cancel_order(session, public_id)
        return order_json(order)

    return run_in_transaction(db.session, work, retry=retry_policy())
