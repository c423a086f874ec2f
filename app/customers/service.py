"""Reading customers. Functions take the session and never commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from app.customers.models import Customer
from app.db.transactions import DbSession


def list_customers(
    session: DbSession, *, after_id: int, limit: int, email: str | None = None
) -> Sequence[Customer]:
    """Customers with id > ``after_id`` by id, or the one with ``email`` (any case)."""
    statement = select(Customer).where(Customer.id > after_id).order_by(Customer.id).limit(limit)
    if email is not None:
        statement = statement.where(Customer.email == email.strip().lower())
    return session.scalars(statement).all()
