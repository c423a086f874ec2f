"""JSON API for customers: /api/customers."""

from __future__ import annotations

from flask import request

from app.api.blueprint import bp
from app.api.pagination import page, page_request
from app.api.validation import Errors
from app.customers.models import Customer
from app.customers.service import list_customers
from app.extensions import db


def customer_json(customer: Customer) -> dict:
    """A customer as the API shows it."""
    return {
        "id": customer.id,
        "public_id": str(customer.public_id),
        "email": customer.email,
        "name": customer.name,
        "region": customer.region,
    }


@bp.get("/customers")
def customers_index():
    """Customers by id, one page at a time; ``?email=`` finds one."""
    after_id, limit = page_request()
    email = None
    if "email" in request.args:
        errors = Errors()
        email = errors.string(request.args["email"], "email", min_length=3, max_length=320)
        errors.raise_if_any()
    rows = list_customers(db.session, after_id=after_id, limit=limit + 1, email=email)
    return page(rows, limit, customer_json)
