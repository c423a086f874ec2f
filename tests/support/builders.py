"""Small factories for test data.

They commit, as an admin creating the data would: the app's own rollbacks must
not undo the test's setup. (In the rolled-back test transaction a commit only
releases a savepoint.)"""

from __future__ import annotations

import itertools

from app.api.tokens import issue_token
from app.catalog.models import Product
from app.customers.models import Customer

_sequence = itertools.count(1)


def add_product(session, *, stock: int = 10, price_cents: int = 1000, **fields) -> Product:
    """A product with a unique SKU."""
    n = next(_sequence)
    product = Product(
        sku=f"TEST-{n:06d}",
        name=f"Test product {n}",
        price_cents=price_cents,
        stock=stock,
        **fields,
    )
    session.add(product)
    session.commit()
    return product


def add_customer(session, **fields) -> Customer:
    """A customer with a unique email."""
    n = next(_sequence)
    customer = Customer(
        email=f"customer{n}@example.com", name=f"Customer {n}", region="europe", **fields
    )
    session.add(customer)
    session.commit()
    return customer


def bearer(session, name: str = "tests") -> dict:
    """Authorization headers for a new API token."""
    _token, plain = issue_token(session, name)
    session.commit()
    return {"Authorization": f"Bearer {plain}"}


def release_connections(app) -> None:
    """Close every connection ``app`` still holds: its session's, and every engine's
    pool (a connection left open is a ResourceWarning, which the tests treat as an
    error)."""
    from app.extensions import db

    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
