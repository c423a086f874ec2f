"""Domain errors as RFC 9457 problem+json responses, one place for all of them."""

from __future__ import annotations

from dataclasses import asdict

from flask import Flask, Response

from app.api.validation import ValidationFailed
from app.catalog.service import ProductNotFound, StaleVersion, StockLimitExceeded
from app.db.transactions import ConflictPersists, LockWaitTimeout
from app.errors import RETRY_AFTER_SECONDS, problem
from app.orders.service import (
    InsufficientStock,
    OrderNotFound,
    UnknownCustomer,
    UnknownProducts,
)


def problem_for(error: Exception) -> Response:
    """The problem+json response for a domain error."""
    match error:
        case ValidationFailed():
            return problem(
                422,
                "Validation failed",
                "The request has invalid fields.",
                type_="validation",
                errors=error.errors,
            )
        case InsufficientStock():
            first = error.shortages[0]
            return problem(
                409,
                "Insufficient stock",
                str(error),
                type_="insufficient-stock",
                product_id=first.product_id,
                requested=first.requested,
                available=first.available,
                shortages=[asdict(s) for s in error.shortages],
            )
        case UnknownCustomer():
            return problem(
                404,
                "Unknown customer",
                str(error),
                type_="unknown-customer",
                customer_id=error.customer_id,
            )
        case UnknownProducts():
            return problem(
                404,
                "Unknown product",
                str(error),
                type_="unknown-product",
                product_id=error.product_ids[0],
                product_ids=error.product_ids,
            )
        case ProductNotFound():
            return problem(
                404, "Not Found", str(error), type_="not-found", product_id=error.product_id
            )
        case OrderNotFound():
            return problem(404, "Not Found", str(error), type_="not-found")
        case ConflictPersists() | LockWaitTimeout():
            return problem(
                409,
                "Conflict",
                "Concurrent requests are changing the same rows; retry shortly.",
                type_="conflict",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        case StaleVersion():
            return problem(
                412,
                "Precondition Failed",
                f"The product changed: it is now at version {error.current_version}.",
                type_="stale-version",
                product_id=error.product_id,
                current_version=error.current_version,
                headers={"ETag": f'"{error.current_version}"'},
            )
        case StockLimitExceeded():
            return problem(
                422,
                "Validation failed",
                str(error),
                type_="validation",
                errors=[{"field": "quantity", "message": str(error)}],
            )
    raise TypeError(f"no problem response for {type(error).__name__}")


HANDLED = (
    ValidationFailed,
    InsufficientStock,
    UnknownCustomer,
    UnknownProducts,
    ProductNotFound,
    OrderNotFound,
    ConflictPersists,
    LockWaitTimeout,
    StaleVersion,
    StockLimitExceeded,
)


def register(app: Flask) -> None:
    """Answer every domain error with its problem+json response."""
    for error_class in HANDLED:
        app.register_error_handler(error_class, problem_for)
