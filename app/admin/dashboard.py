"""The admin home page: how today's sales compare with the same weekday last week,
what is about to run out, and the database overview's status.

Every query here reads a bounded slice (one day's range of the covering index on
``orders.placed_at``; the product and sales-rate tables), so the page costs the same
at ten million orders as at ten thousand.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import TypeVar

from flask import Flask, current_app
from flask_admin import AdminIndexView, expose
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError

from app import charts
from app.auth.guards import LoginRequired
from app.catalog.sales_rates import SALES_RATES_JOB
from app.db.errors import first_line
from app.db.sql import query
from app.db.transactions import DbSession
from app.extensions import db

T = TypeVar("T")
REORDER_DAYS = 14  # the stock-cover report's default (measured over SALES_RATE_DAYS)
RUNNING_OUT_ROWS = 10


@dataclass
class DaySales:
    """Orders and revenue of one day up to a time of day, hour by hour."""

    orders_by_hour: list[int] = field(default_factory=lambda: [0] * 24)
    revenue_by_hour: list[int] = field(default_factory=lambda: [0] * 24)

    @property
    def orders(self) -> int:
        return sum(self.orders_by_hour)

    @property
    def revenue_cents(self) -> int:
        return sum(self.revenue_by_hour)


@dataclass
class Sales:
    """Today until ``now`` against the same weekday last week until the same time."""

    now: datetime
    today: DaySales
    last_week: DaySales

    def change(self, name: str) -> float | None:
        """Today's ``orders`` or ``revenue_cents`` relative to last week (+0.25 is 25 %
        more); None when last week had none."""
        before = getattr(self.last_week, name)
        return None if not before else getattr(self.today, name) / before - 1

    def chart(self) -> Markup:
        """Cumulative revenue by hour, today against last week."""
        hours = self.now.hour + 1
        series: dict[str, Sequence[float]] = {}
        for name, day in (("today", self.today), ("same day last week", self.last_week)):
            running: list[float] = []
            total = 0
            for cents in day.revenue_by_hour[:hours]:
                total += cents
                running.append(total)
            series[name] = running
        return charts.line_chart(
            [f"{hour:02d}" for hour in range(hours)],
            series,
            title="Revenue so far today by hour (UTC), against the same weekday last week",
            unit=charts.money_unit(),
        )


def sales(session: DbSession, now: datetime | None = None) -> Sales:
    """Today's sales until ``now`` and last week's until the same time (UTC days)."""
    now = now or datetime.now(UTC)
    today = datetime.combine(now.date(), time(), UTC)
    week = timedelta(days=7)
    days = {"today": DaySales(), "last_week": DaySales()}
    rows = session.execute(
        query("app.admin", "dashboard_sales.sql"),
        {"today": today, "now": now, "last_week": today - week, "last_week_now": now - week},
    )
    for row in rows:
        days[row.day].orders_by_hour[row.hour] = row.orders
        days[row.day].revenue_by_hour[row.hour] = row.revenue_cents
    return Sales(now, days["today"], days["last_week"])


@dataclass
class RunningOut:
    """Products about to run out (``rates_at`` set), or, before the hourly job has
    computed any sales rate, the products with the least stock."""

    rows: list
    rates_at: datetime | None


def running_out(
    session: DbSession, reorder_days: int = REORDER_DAYS, limit: int = RUNNING_OUT_ROWS
) -> RunningOut:
    """The live products with under ``reorder_days`` of cover, most urgent first."""
    rates_at = session.execute(
        query("app.admin", "dashboard_rates_age.sql"), {"job": SALES_RATES_JOB.name}
    ).scalar()
    if rates_at is None:
        rows = session.execute(
            query("app.admin", "dashboard_lowest_stock.sql"), {"row_limit": limit}
        )
        return RunningOut(list(rows), None)
    rows = session.execute(
        query("app.admin", "dashboard_running_out.sql"),
        {"reorder_days": reorder_days, "row_limit": limit},
    )
    return RunningOut(list(rows), rates_at)


def _read(read: Callable[[DbSession], T]) -> tuple[T | None, str | None]:
    """``read`` in a savepoint of its own: its result, or None and why it failed (the
    orders table locked by a migration, say), so one section cannot fail the page."""
    savepoint = db.session.begin_nested()
    try:
        result = read(db.session)
        savepoint.commit()
        return result, None
    except SQLAlchemyError as error:
        savepoint.rollback()
        return None, first_line(error)


class DashboardView(LoginRequired, AdminIndexView):
    """The admin home page: the dashboard an operator opens first."""

    @expose("/")
    def index(self):
        from app.dbconsole.overview import overview, worst

        # Flask types current_app as Flask, not as the werkzeug LocalProxy it is.
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        checks = overview(app)
        failing = [check for check in checks if check.status != "ok"]
        sales_now, sales_error = _read(sales)
        short, short_error = _read(running_out)
        return self.render(
            "admin/index.html",
            worst=worst(checks),
            failing=failing,
            sales=sales_now,
            sales_error=sales_error,
            running_out=short,
            running_out_error=short_error,
            reorder_days=REORDER_DAYS,
        )
