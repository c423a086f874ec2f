"""Placing and cancelling orders. Functions take the session and never commit; run
them through :func:`app.db.transactions.run_in_transaction`.

Placing a pessimistic order is one statement whatever its number of lines: it locks
the products (in id order), checks, takes the stock and writes the order and its
lines. An optimistic order reads, then writes if no version changed.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.api.tokens import Credentials, TokenRejected, authenticate
from app.db.sql import query
from app.db.transactions import DbSession, RetryableConflict
from app.errors import ProblemError
from app.orders.models import Order

PESSIMISTIC = "pessimistic"
OPTIMISTIC = "optimistic"
LOCKING_STRATEGIES = (PESSIMISTIC, OPTIMISTIC)


class OrderError(ProblemError):
    """A request the order service refuses; nothing was written."""

    outcome = "refused"  # the label it is counted under in /metrics


class UnknownCustomer(OrderError):
    """No customer has this id."""

    status, problem_type, title = 404, "unknown-customer", "Unknown customer"
    outcome = "unknown_customer"

    def __init__(self, customer_id: int) -> None:
        super().__init__(f"no customer with id {customer_id}")
        self.customer_id = customer_id

    def problem_fields(self) -> dict:
        return {"customer_id": self.customer_id}


class UnknownProducts(OrderError):
    """Some products do not exist (or were deleted)."""

    status, problem_type, title = 404, "unknown-product", "Unknown product"
    outcome = "unknown_product"

    def __init__(self, product_ids: list[int]) -> None:
        super().__init__(f"no product with id {', '.join(map(str, product_ids))}")
        self.product_ids = product_ids

    def problem_fields(self) -> dict:
        return {"product_id": self.product_ids[0], "product_ids": self.product_ids}


@dataclass(frozen=True)
class Shortage:
    """A line asking for more than is in stock."""

    product_id: int
    requested: int
    available: int


class InsufficientStock(OrderError):
    """Not enough stock: which product, how many requested, how many available."""

    status, problem_type, title = 409, "insufficient-stock", "Insufficient stock"
    outcome = "insufficient_stock"

    def __init__(self, shortages: list[Shortage]) -> None:
        first = shortages[0]
        super().__init__(
            f"product {first.product_id}: {first.requested} requested, {first.available} available"
        )
        self.shortages = shortages

    def problem_fields(self) -> dict:
        first = self.shortages[0]
        return {
            "product_id": first.product_id,
            "requested": first.requested,
            "available": first.available,
            "shortages": [asdict(s) for s in self.shortages],
        }


class OrderNotFound(OrderError):
    """No such order."""

    status, problem_type, title = 404, "not-found", "Not Found"

    def __init__(self, public_id: str) -> None:
        super().__init__(f"no order {public_id}")
        self.public_id = public_id


@dataclass(frozen=True)
class LineRequest:
    """One requested line."""

    product_id: int
    quantity: int


@dataclass(frozen=True)
class OrderRequest:
    """A validated request to place an order (product ids are distinct)."""

    customer_id: int
    lines: tuple[LineRequest, ...]
    locking: str = PESSIMISTIC


@dataclass(frozen=True)
class PlacedLine:
    """A line as written."""

    product_id: int
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class PlacedOrder:
    """What placing an order wrote (the same shape as an :class:`Order` row)."""

    id: int
    public_id: uuid.UUID
    customer_id: int
    status: str
    total_cents: int
    placed_at: datetime
    lines: tuple[PlacedLine, ...]
    cancelled_at: datetime | None = None


def one_statement(request: OrderRequest) -> bool:
    """Whether placing ``request`` sends a single statement (the token check, the
    locks, the stock and the writes together): any pessimistic order. The caller may
    then run it on its own, committed in the round trip that sends it."""
    return request.locking == PESSIMISTIC


def place_order(
    session: DbSession, request: OrderRequest, *, token: Credentials | None = None
) -> PlacedOrder:
    """Reserve stock for every line and write the order, or raise and write nothing.

    With ``token`` (an API token not yet looked up), the order is written only while
    that token is live: checked in the order's own statement for a one-line
    pessimistic order, looked up first otherwise.

    Raises :class:`UnknownCustomer`, :class:`UnknownProducts`,
    :class:`InsufficientStock`, :class:`TokenRejected`, or
    :class:`RetryableConflict` when the optimistic version check lost a race (the
    caller rolls back and retries).
    """
    lines = sorted(request.lines, key=lambda line: line.product_id)
    if request.locking == PESSIMISTIC:
        if len(lines) == 1:
            return _place_one(session, request, lines[0], token)
        return _place_locked(session, request, lines, token)
    if token is not None and authenticate(session, token) is None:
        raise TokenRejected()
    return _place_optimistic(session, request, lines)


def _refusal(
    request: OrderRequest, lines: list[LineRequest], products: dict, customer_known: bool
) -> OrderError | None:
    """Why an order cannot be written (unknown products first, then the customer,
    then every short line), or None when nothing stands in its way."""
    missing = [line.product_id for line in lines if line.product_id not in products]
    if missing:
        return UnknownProducts(missing)
    if not customer_known:
        return UnknownCustomer(request.customer_id)
    shortages = [
        Shortage(line.product_id, line.quantity, products[line.product_id].stock)
        for line in lines
        if products[line.product_id].stock < line.quantity
    ]
    return InsufficientStock(shortages) if shortages else None


def _placed(
    request: OrderRequest, lines, order_id: int, written, prices: dict[int, int]
) -> PlacedOrder:
    """The placed order as the service returns it, from the written row."""
    return PlacedOrder(
        id=order_id,
        public_id=written.public_id,
        customer_id=request.customer_id,
        status=written.status,
        total_cents=written.total_cents,
        placed_at=written.placed_at,
        lines=tuple(
            PlacedLine(line.product_id, line.quantity, prices[line.product_id]) for line in lines
        ),
    )


def _place_one(
    session: DbSession, request: OrderRequest, line: LineRequest, token: Credentials | None
) -> PlacedOrder:
    """Pessimistic, one line (a flash sale's order): a conditional UPDATE takes the
    stock and the same statement checks the token and writes the order
    (place_one.sql); the row is locked by that UPDATE until the commit. Only a
    refusal reads again, to say why."""
    written = session.execute(
        query("app.orders", "place_one.sql"),
        {
            "product_id": line.product_id,
            "quantity": line.quantity,
            "customer_id": request.customer_id,
            "token_prefix": token.prefix if token else None,
            "token_hash": token.token_hash if token else None,
        },
    ).first()
    if written is not None:
        return _placed(request, [line], written.id, written, {line.product_id: written.price_cents})
    if token is not None and authenticate(session, token) is None:
        raise TokenRejected()
    rows = session.execute(
        query("app.orders", "read_products.sql"),
        {"product_ids": [line.product_id], "customer_id": request.customer_id},
    ).all()
    products = {row.id: row for row in rows}
    refused = _refusal(request, [line], products, bool(rows) and rows[0].customer_known)
    # Short when the UPDATE ran, restocked since: try again.
    raise refused or RetryableConflict("the stock changed while the order was placed")


def _place_locked(
    session: DbSession, request: OrderRequest, lines, token: Credentials | None
) -> PlacedOrder:
    """Pessimistic: one statement locks, checks, takes and writes (place_order.sql),
    so the product rows stay locked only from it to the commit."""
    rows = session.execute(
        query("app.orders", "place_order.sql"),
        {
            "product_ids": [line.product_id for line in lines],
            "quantities": [line.quantity for line in lines],
            "customer_id": request.customer_id,
            "token_prefix": token.prefix if token else None,
            "token_hash": token.token_hash if token else None,
        },
    ).all()
    products = {row.id: row for row in rows}
    if not rows or rows[0].order_id is None:
        if token is not None and not (
            rows[0].token_live if rows else authenticate(session, token) is not None
        ):
            raise TokenRejected()
        refused = _refusal(request, lines, products, bool(rows) and rows[0].customer_known)
        # Nothing in the way yet nothing written cannot happen under the lock.
        raise refused or RetryableConflict("the order was not written")
    prices = {pid: row.price_cents for pid, row in products.items()}
    return _placed(request, lines, rows[0].order_id, rows[0], prices)


def _place_optimistic(session: DbSession, request: OrderRequest, lines) -> PlacedOrder:
    """Optimistic: read without locking, then write only if no product's version
    changed meanwhile (else :class:`RetryableConflict`)."""
    product_ids = [line.product_id for line in lines]
    rows = session.execute(
        query("app.orders", "read_products.sql"),
        {"product_ids": product_ids, "customer_id": request.customer_id},
    ).all()
    products = {row.id: row for row in rows}
    refused = _refusal(request, lines, products, bool(rows) and rows[0].customer_known)
    if refused is not None:
        raise refused

    prices = [products[pid].price_cents for pid in product_ids]
    quantities = [line.quantity for line in lines]
    total = sum(price * quantity for price, quantity in zip(prices, quantities, strict=True))
    written = session.execute(
        query("app.orders", "write_order.sql"),
        {
            "product_ids": product_ids,
            "quantities": quantities,
            "versions": [products[pid].version for pid in product_ids],
            "prices": prices,
            "customer_id": request.customer_id,
            "total_cents": total,
        },
    ).one()
    if written.id is None:
        raise RetryableConflict("a product changed since it was read")
    prices_by_id = {pid: row.price_cents for pid, row in products.items()}
    return _placed(request, lines, written.id, written, prices_by_id)


def get_order(session: DbSession, public_id: str) -> Order:
    """The order with its lines, or :class:`OrderNotFound`."""
    try:
        key = uuid.UUID(public_id)
    except ValueError:
        raise OrderNotFound(public_id) from None
    order = session.scalar(
        select(Order).options(selectinload(Order.lines)).where(Order.public_id == key)
    )
    if order is None:
        raise OrderNotFound(public_id)
    return order


def cancel_order(
    session: DbSession, public_id: str, *, cancelled_by: int | None = None
) -> tuple[Order, bool]:
    """Cancel an order and give its units back to stock; True if this call cancelled it.

    ``cancelled_by`` is the admin user doing it (None through the API). Cancelling
    an already cancelled order changes nothing and is not an error.
    """
    try:
        key = uuid.UUID(public_id)
    except ValueError:
        raise OrderNotFound(public_id) from None
    claimed = session.execute(
        query("app.orders", "claim_cancellation.sql"),
        {"public_id": key, "cancelled_by": cancelled_by},
    ).one_or_none()
    if claimed is not None:
        session.execute(query("app.orders", "lock_order_products.sql"), {"order_id": claimed.id})
        session.execute(query("app.orders", "restore_stock.sql"), {"order_id": claimed.id})
        # The ORM may hold this order from before the raw UPDATE: reload it.
        session.expire_all()
    return get_order(session, public_id), claimed is not None
