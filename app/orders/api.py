"""JSON API for orders: /api/orders."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Annotated, Literal

from flask import Blueprint, Response, current_app, json, url_for
from pydantic import BaseModel, ConfigDict, Field

from app.api import idempotency
from app.api.blueprint import checks_token_itself, presented_token, token_accepted, token_id
from app.api.fields import ID, Integer
from app.api.operations import Answer, Header, operation, render
from app.api.tokens import Credentials
from app.api.validation import ValidationFailed
from app.db.engine import limits_per_transaction
from app.db.errors import ConflictPersists, LockWaitTimeout
from app.db.transactions import RetryPolicy, run_in_transaction
from app.errors import Conflict
from app.extensions import db
from app.monitoring.counters import labelled_counter
from app.orders.service import (
    InsufficientStock,
    LineRequest,
    OrderError,
    OrderNotFound,
    OrderRequest,
    UnknownCustomer,
    UnknownProducts,
    cancel_order,
    get_order,
    one_statement,
    place_order,
)

log = logging.getLogger(__name__)
bp = Blueprint("orders", __name__)

ORDER_OUTCOMES = labelled_counter(
    "stockroom_orders_total",
    "POST /api/orders outcomes: placed, insufficient_stock, conflict, unknown_customer ...",
    "outcome",
)
ORDER_RETRIES = labelled_counter(
    "stockroom_order_retries_total",
    "Reruns of order transactions after a deadlock, serialization failure or stale read.",
)


def record_order(outcome: str, retries: int) -> None:
    """Count an order request's outcome and the reruns it took."""
    ORDER_OUTCOMES.inc(outcome)
    if retries:
        ORDER_RETRIES.inc(amount=retries)


MAX_LINES = 100
# Keeps every total far inside bigint: 100 lines x 1e6 units x 2^31 cents < 2^63.
MAX_QUANTITY = 1_000_000
PUBLIC_ID = {
    "type": "string",
    "format": "uuid",
    "examples": ["0f8fad5b-d9cb-469f-a165-70867728950e"],
}

LineQuantity = Annotated[int, Integer(1, MAX_QUANTITY)]


class NewOrderLine(BaseModel):
    """One product and how many units of it."""

    model_config = ConfigDict(extra="forbid")

    product_id: ID
    quantity: LineQuantity


class NewOrder(BaseModel):
    """An order to place: every line's stock is taken, or nothing is written."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"customer_id": 1, "lines": [{"product_id": 1, "quantity": 2}]}]
        },
    )

    customer_id: ID
    lines: Annotated[
        list[NewOrderLine],
        Field(
            min_length=1,
            max_length=MAX_LINES,
            description="Each product at most once: a repeated product is refused (422), "
            "not merged.",
        ),
    ]
    locking: Literal["pessimistic", "optimistic"] | None = Field(
        default=None,
        description="How to guard the stock (default: the server's ORDER_LOCKING, "
        "pessimistic unless configured).",
    )


class OrderLine(BaseModel):
    """A line as written, with the price it was sold at."""

    product_id: int
    quantity: int
    unit_price_cents: int


class Order(BaseModel):
    """An order with its lines."""

    public_id: uuid.UUID
    customer_id: int
    status: Literal["placed", "cancelled"]
    total_cents: int
    placed_at: datetime
    cancelled_at: datetime | None
    lines: list[OrderLine]


def order_request(body: NewOrder) -> OrderRequest:
    """The service's request from a validated body. Repeated products are refused,
    not merged: a client sending the same product twice most likely has a bug."""
    seen: set[int] = set()
    repeated = []
    for index, line in enumerate(body.lines):
        if line.product_id in seen:
            repeated.append(
                {
                    "field": f"lines[{index}].product_id",
                    "message": "appears in an earlier line; combine the lines",
                }
            )
        seen.add(line.product_id)
    if repeated:
        raise ValidationFailed(repeated)
    return OrderRequest(
        customer_id=body.customer_id,
        lines=tuple(LineRequest(line.product_id, line.quantity) for line in body.lines),
        locking=body.locking or current_app.config["ORDER_LOCKING"],
    )


def created(order) -> Response:
    """201 with the order and its Location."""
    return Response(
        json.dumps(render(Order, order)),
        status=201,
        mimetype="application/json",
        headers={"Location": url_for(".orders_show", public_id=str(order.public_id))},
    )


def retry_policy() -> RetryPolicy:
    """Retries for deadlocks, serialization failures and stale optimistic reads."""
    return RetryPolicy(attempts=current_app.config["ORDER_RETRY_ATTEMPTS"])


def place(request_: OrderRequest, record_id: int | None, token: Credentials | None) -> Response:
    """Place the order in one transaction; with a key, store the response in it too.

    ``token``: the request's API token, not yet looked up (the order's statement
    checks it). Without a key, an order placed by one statement runs on its own,
    committed in the round trip that sends it (behind PgBouncer, whose transactions
    carry the limits in their ``BEGIN``, in a transaction as usual)."""
    attempts: list[str] = []

    def work(session):
        response = created(place_order(session, request_, token=token))
        if record_id is not None:
            idempotency.complete(session, record_id, response)
        return response

    alone = (
        record_id is None
        and one_statement(request_)
        and not limits_per_transaction(current_app.config)
    )
    try:
        response = run_in_transaction(
            db.session,
            work,
            retry=retry_policy(),
            on_retry=attempts.append,
            single_statement=alone,
        )
        if token is not None:
            token_accepted()
    except (ConflictPersists, LockWaitTimeout):
        record_order("conflict", len(attempts))
        raise
    except OrderError as error:
        if token is not None:
            token_accepted()  # refused for the order's sake: the token was live
        # The same request would fail the same way now: keep the answer for replays.
        record_order(error.outcome, len(attempts))
        response = error.response()
        if record_id is not None:
            run_in_transaction(
                db.session, lambda session: idempotency.complete(session, record_id, response)
            )
    else:
        record_order("placed", len(attempts))
    response.headers["Order-Retries"] = str(len(attempts))
    return response


LOCATION = Header("Location", "The new order's URL.")
ORDER_LINKS = {
    "GetOrder": {
        "operationId": "orders_show",
        "parameters": {"public_id": "$response.body#/public_id"},
    },
    "CancelOrder": {
        "operationId": "orders_cancel",
        "parameters": {"public_id": "$response.body#/public_id"},
    },
}


@bp.post("/orders")
@checks_token_itself
@operation(
    "Place an order",
    body=NewOrder,
    headers=[idempotency.IDEMPOTENCY_KEY],
    ok=Answer(201, Order, "Placed.", headers=(LOCATION,), links=ORDER_LINKS),
    errors=[
        UnknownCustomer,
        UnknownProducts,
        InsufficientStock,
        Conflict,
        idempotency.KeyInProgress,
        idempotency.KeyReused,
    ],
)
def orders_create(body: NewOrder, idempotency_key: str | None):
    """Place an order; see the contract for statuses and the Idempotency-Key rules."""
    request_ = order_request(body)
    if idempotency_key is None:
        return place(request_, record_id=None, token=presented_token())

    config = current_app.config
    claim = run_in_transaction(
        db.session,
        lambda session: idempotency.claim(
            session,
            token_id=token_id(),
            key=idempotency_key,
            fingerprint=idempotency.fingerprint(body.model_dump(mode="json", exclude_unset=True)),
            ttl_seconds=config["IDEMPOTENCY_TTL_SECONDS"],
            lease_seconds=config["IDEMPOTENCY_LEASE_SECONDS"],
        ),
    )
    if claim.outcome == "replay":
        return claim.replay()
    if claim.outcome == "mismatch":
        raise idempotency.KeyReused()
    if claim.outcome == "in-progress":
        raise idempotency.KeyInProgress()
    try:
        return place(request_, record_id=claim.record_id, token=None)
    except Exception:
        # Conflicts and server trouble: free the key so the same request can retry.
        try:
            run_in_transaction(
                db.session, lambda session: idempotency.release(session, claim.record_id)
            )
        except Exception:
            log.exception(
                "could not release Idempotency-Key %r (the lease will expire)", idempotency_key
            )
        raise


@bp.get("/orders/<public_id>")
@operation(
    "One order with its lines",
    ok=Answer(200, Order, "The order."),
    errors=[OrderNotFound],
    path_parameters={"public_id": PUBLIC_ID},
)
def orders_show(public_id: str):
    """One order with its lines."""
    return render(Order, get_order(db.session, public_id))


@bp.post("/orders/<public_id>/cancel")
@operation(
    "Cancel an order; restores stock exactly once, repeating is harmless",
    ok=Answer(200, Order, "The cancelled order."),
    errors=[OrderNotFound, Conflict],
    path_parameters={"public_id": PUBLIC_ID},
)
def orders_cancel(public_id: str):
    """Cancel an order, restoring its stock exactly once; repeating it is harmless."""

    def work(session):
        order, _cancelled_now = cancel_order(session, public_id)
        return render(Order, order)

    return run_in_transaction(db.session, work, retry=retry_policy())
