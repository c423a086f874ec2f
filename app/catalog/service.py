"""Reading and changing products. Functions take the session and never commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError

from app.catalog.models import Product
from app.db.sql import query
from app.db.transactions import DbSession, sqlstate
from app.errors import ProblemError
from app.inputs import MAX_INT

NUMERIC_OUT_OF_RANGE = "22003"
EDITABLE_FIELDS = ("name", "price_cents", "stock", "description")


class ProductNotFound(ProblemError):
    """No such product."""

    status, problem_type, title = 404, "not-found", "Not Found"

    def __init__(self, product_id: int) -> None:
        super().__init__(f"no product with id {product_id}")
        self.product_id = product_id

    def problem_fields(self) -> dict:
        return {"product_id": self.product_id}


class StaleVersion(ProblemError):
    """The product changed since that version (the current one is in ETag)."""

    status, problem_type, title = 412, "stale-version", "Precondition Failed"

    def __init__(self, product: Product) -> None:
        super().__init__(f"product {product.id} is at version {product.version}")
        self.product_id = product.id
        self.current_version = product.version

    def problem_detail(self) -> str:
        return f"The product changed: it is now at version {self.current_version}."

    def problem_fields(self) -> dict:
        return {"product_id": self.product_id, "current_version": self.current_version}

    def problem_headers(self) -> dict:
        return {"ETag": f'"{self.current_version}"'}


class StockLimitExceeded(ProblemError):
    """A restock would push stock past what the column holds: a conflict with the
    product's current stock (the same quantity is fine for another product), so
    409, as insufficient stock for an order is."""

    status, problem_type, title = 409, "stock-limit", "Stock limit reached"

    def __init__(self, product_id: int) -> None:
        super().__init__(f"stock would exceed {MAX_INT} units for product {product_id}")
        self.product_id = product_id

    def problem_fields(self) -> dict:
        return {"product_id": self.product_id}


def get_product(session: DbSession, product_id: int) -> Product:
    """A live (not soft-deleted) product, or :class:`ProductNotFound`."""
    product = session.scalar(
        select(Product).where(Product.id == product_id, Product.deleted_at.is_(None))
    )
    if product is None:
        raise ProductNotFound(product_id)
    return product


def list_products(session: DbSession, *, after_id: int, limit: int) -> Sequence[Product]:
    """Live products with id > ``after_id``, by id (keyset pagination)."""
    return session.scalars(
        select(Product)
        .where(Product.id > after_id, Product.deleted_at.is_(None))
        .order_by(Product.id)
        .limit(limit)
    ).all()


def update_product(
    session: DbSession, product_id: int, *, expected_version: int, changes: dict
) -> Product:
    """Apply ``changes`` only if the product is still at ``expected_version``.

    The version is checked inside the UPDATE itself, so a change committed by
    someone else at any moment before it is never overwritten.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    updated = session.scalar(
        update(Product)
        .where(
            Product.id == product_id,
            Product.version == expected_version,
            Product.deleted_at.is_(None),
        )
        .values(**changes, version=Product.version + 1, updated_at=func.now())
        .returning(Product)
        .execution_options(populate_existing=True)
    )
    if updated is None:
        raise StaleVersion(get_product(session, product_id))
    return updated


def restock(session: DbSession, product_id: int, quantity: int):
    """Add ``quantity`` units atomically; returns (id, stock, version)."""
    try:
        row = session.execute(
            query("app.catalog", "restock.sql"), {"product_id": product_id, "quantity": quantity}
        ).one_or_none()
    except DBAPIError as error:
        if sqlstate(error) == NUMERIC_OUT_OF_RANGE:
            raise StockLimitExceeded(product_id) from error
        raise
    if row is None:
        raise ProductNotFound(product_id)
    return row
