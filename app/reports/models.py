"""The reports' rollups: sums of placed orders per day and per month (overall, per
product, per customer) and each customer's activity by month, kept up to date from
a queue of order changes (app/reports/rollups.py explains how).

No foreign keys: the rollups are derived data, rebuilt by ``flask rollup rebuild``,
and keys to products and customers would lock those tables when created and cost
every fold a check per row.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Index,
    Integer,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.columns import BigIntPk
from app.extensions import Model


class OrderChange(Model):
    """One change to what an order contributes to the reports, written by triggers
    on ``orders`` in the changing transaction and consumed by the next fold.

    ``sign`` is +1 when the order starts counting (placed), -1 when it stops
    (cancelled, or its counted values changed: the old values leave, the new ones
    come in as a +1 row), 0 for an order inserted already cancelled (it still
    counts as activity). ``new_order`` marks inserts (cohort activity)."""

    __tablename__ = "order_changes"
    __table_args__ = (CheckConstraint("sign BETWEEN -1 AND 1", name="sign_known"),)

    id: Mapped[BigIntPk]
    order_id: Mapped[int] = mapped_column(BigInteger)
    customer_id: Mapped[int] = mapped_column(BigInteger)
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    total_cents: Mapped[int] = mapped_column(BigInteger)
    sign: Mapped[int] = mapped_column(Integer)
    new_order: Mapped[bool] = mapped_column(Boolean)


class SalesDay(Model):
    """Placed orders and their revenue per day (UTC)."""

    __tablename__ = "sales_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    orders: Mapped[int] = mapped_column(BigInteger)
    revenue_cents: Mapped[int] = mapped_column(BigInteger)


class SalesProductDay(Model):
    """Units and revenue of placed orders per day and product."""

    __tablename__ = "sales_product_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    product_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    units: Mapped[int] = mapped_column(BigInteger)
    revenue_cents: Mapped[int] = mapped_column(BigInteger)


class SalesProductMonth(Model):
    """Units and revenue of placed orders per month and product (long ranges read
    whole months here and only the partial months at their ends by day)."""

    __tablename__ = "sales_product_months"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    product_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    units: Mapped[int] = mapped_column(BigInteger)
    revenue_cents: Mapped[int] = mapped_column(BigInteger)


class SalesCustomerDay(Model):
    """Placed orders and revenue per day and customer."""

    __tablename__ = "sales_customer_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    orders: Mapped[int] = mapped_column(BigInteger)
    revenue_cents: Mapped[int] = mapped_column(BigInteger)


class SalesCustomerMonth(Model):
    """Placed orders and revenue per month and customer."""

    __tablename__ = "sales_customer_months"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    orders: Mapped[int] = mapped_column(BigInteger)
    revenue_cents: Mapped[int] = mapped_column(BigInteger)


class CustomerActivity(Model):
    """Each customer's first order and the months they ordered in (any order, even a
    cancelled one: cohorts count arrivals and returns). One row per customer, so a
    cohort's members and all their months are one range read, not a probe each."""

    __tablename__ = "customer_activity"
    __table_args__ = (Index("ix_customer_activity_first_placed_at", "first_placed_at"),)

    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    first_placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    months: Mapped[list[date]] = mapped_column(ARRAY(Date))


class RollupState(Model):
    """The rollups' one row of state.

    Orders with ids up to ``historic_through_id`` existed before the change triggers
    (or were bulk-loaded past them): the backfill reads them from ``orders`` in id
    order and has done those up to ``backfilled_through_id``. Until it is through,
    reports read the raw tables."""

    __tablename__ = "rollup_state"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    historic_through_id: Mapped[int] = mapped_column(BigInteger)
    backfilled_through_id: Mapped[int] = mapped_column(BigInteger)
    folded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    backfilled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
