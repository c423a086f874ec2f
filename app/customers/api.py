"""JSON API for customers: /api/customers."""

from __future__ import annotations

import uuid
from typing import Annotated

from flask import Blueprint
from pydantic import BaseModel

from app.api.fields import Text
from app.api.operations import Answer, operation, render
from app.api.pagination import PageQuery, page
from app.customers.models import EMAIL_MAX, EMAIL_MIN
from app.customers.service import list_customers
from app.extensions import db

bp = Blueprint("customers", __name__)

# ?email=: None when not sent.
EmailQuery = Annotated[
    str | None,
    Text(EMAIL_MIN, EMAIL_MAX, strip=False, description="Finds the customer with this email."),
]


class Customer(BaseModel):
    """A customer."""

    id: int
    public_id: uuid.UUID
    email: str
    name: str
    region: str


class CustomerPage(BaseModel):
    """A page of customers; `next` is the cursor of the next page (null on the last)."""

    items: list[Customer]
    next: str | None


class CustomerQuery(PageQuery):
    """``?limit=&cursor=`` and ``?email=`` to find one customer."""

    email: EmailQuery = None


@bp.get("/customers")
@operation(
    "List customers (keyset pagination); ?email= finds one",
    query=CustomerQuery,
    ok=Answer(200, CustomerPage, "A page of customers."),
)
def customers_index(query: CustomerQuery):
    """Customers by id, one page at a time; ``?email=`` finds one."""
    rows = list_customers(
        db.session, after_id=query.cursor or 0, limit=query.limit + 1, email=query.email
    )
    return page(rows, query.limit, lambda row: render(Customer, row))
