"""The reports' rollups: sums of placed orders per day, per day and product and per
month and product, each customer's activity by month and the customers of each
cohort by month, and each customer's sales over the last 30, 90, 365 and 1,099
days, kept up to date from queues of order and region changes
(app/reports/rollups/upkeep.py explains how).

No foreign keys: the rollups are derived data, rebuilt by ``flask rollup rebuild``,
and keys to products and customers would lock those tables when created and cost
every fold a check per row.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Index,
    Integer,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
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
    queued_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


# The trigger on order_lines finds an order's queued insert by this index.
Index(
    "ix_order_changes_new_orders",
    OrderChange.order_id,
    postgresql_where=OrderChange.new_order,
)


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


class CustomerActivity(Model):
    """Each customer's first order and the months they ordered in (any order, even a
    cancelled one: cohorts count arrivals and returns), one row per customer: what
    the fold needs to move a customer between cohorts, and the cohort report to
    correct its counts for orders not folded yet."""

    __tablename__ = "customer_activity"

    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    first_placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    months: Mapped[list[date]] = mapped_column(ARRAY(Date))


class CohortMonth(Model):
    """How many customers of each cohort (the month of their first order) ordered in
    each month: the cohort report's whole answer, kept by the fold from the changes
    to ``customer_activity`` (a customer whose first order turns out earlier moves
    to an earlier cohort with all their months)."""

    __tablename__ = "cohort_months"

    cohort: Mapped[date] = mapped_column(Date, primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    customers: Mapped[int] = mapped_column(BigInteger)


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


class CustomerRegionChange(Model):
    """A customer whose region changed, queued by a trigger on ``customers`` in the
    changing transaction: the fold moves their window sales to the new region."""

    __tablename__ = "customer_region_changes"

    id: Mapped[BigIntPk]
    customer_id: Mapped[int] = mapped_column(BigInteger)


class CustomerSalesWindow(Model):
    """A window of the last ``window_days`` days: ``customer_window_sales`` counts
    the folded orders placed on or after ``starts_on``, which the rollup job moves
    forward a day at a time (and the backfill widens back to the window's length)."""

    __tablename__ = "customer_sales_windows"
    __table_args__ = (CheckConstraint("window_days > 0", name="window_days_positive"),)

    window_days: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    starts_on: Mapped[date] = mapped_column(Date)


class CustomerWindowSales(Model):
    """A customer's placed orders and revenue in a window, with their region: top
    customers reads each region's leaders from the ranking index instead of summing
    every customer's orders."""

    __tablename__ = "customer_window_sales"

    window_days: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    customer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    region: Mapped[str] = mapped_column(Text)
    orders: Mapped[int] = mapped_column(BigInteger)
    revenue_cents: Mapped[int] = mapped_column(BigInteger)


Index(
    "ix_customer_window_sales_ranking",
    CustomerWindowSales.window_days,
    CustomerWindowSales.region,
    CustomerWindowSales.revenue_cents.desc(),
    CustomerWindowSales.customer_id,
)


class RollupAudit(Model):
    """One run of the rollups' audit (app/reports/rollups/audit.py): how many report
    questions it asked both ways and the ones whose answers differed (NULL: the
    rollups were not in use yet)."""

    __tablename__ = "rollup_audits"

    id: Mapped[BigIntPk]
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    questions: Mapped[int] = mapped_column(Integer)
    different: Mapped[int | None] = mapped_column(Integer)
    differences: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
