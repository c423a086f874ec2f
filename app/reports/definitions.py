"""The reports: SQL file, filter form, columns and chart of each."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from markupsafe import Markup

from app import charts
from app.reports.forms import (
    CohortForm,
    DateRangeForm,
    ProductRankingForm,
    ReportForm,
    StockCoverForm,
    TopCustomersForm,
)


@dataclass(frozen=True)
class Column:
    """A result column: its key in the row, its header, how to show it."""

    key: str
    label: str
    # text, int, number, money (whole cents: the key ends in _cents), percent, date, flag
    kind: str = "text"

    @property
    def numeric(self) -> bool:
        """Right-aligned in tables."""
        return self.kind in ("int", "number", "money", "percent")


def money(cents) -> str:
    """1234567 cents as 12,345.67."""
    return f"{Decimal(cents) / 100:,.2f}"


def show(column: Column, value) -> str:
    """A value as the HTML table shows it."""
    if value is None:
        return "—"
    match column.kind:
        case "int":
            return f"{value:,}"
        case "number":
            return f"{value:,.2f}"
        case "money":
            return money(value)
        case "percent":
            return f"{value * 100:.1f} %"
        case "flag":
            return "yes" if value else ""
        case "date":
            return value.isoformat()
    return str(value)


def csv_value(column: Column, value):
    """A value as the CSV carries it: plain numbers, ISO dates, no thousands separators.
    Money stays in whole cents, as its ``_cents`` column name says."""
    if value is None:
        return ""
    match column.kind:
        case "money":
            return int(Decimal(value).to_integral_value(ROUND_HALF_UP))
        case "percent":
            return f"{value:.6f}"
        case "number":
            return f"{value:.4f}"
        case "date":
            return value.isoformat()
        case "flag":
            return "true" if value else "false"
    return value


@dataclass(frozen=True)
class Report:
    """One report page."""

    slug: str
    title: str
    description: str
    sql: str
    form: type[ReportForm]
    columns: tuple[Column, ...]
    chart: Callable[[Sequence], Markup]
    # The report reads the rollups (app/reports/rollups/upkeep.py) once their backfill is
    # through. ``plan``: a statement run first, in the report's snapshot, whose one
    # row adds parameters for the report's SQL (its ``rollups`` column: whether it
    # reads them after all).
    plan: str | None = None


def _top_customers_chart(rows) -> Markup:
    leaders = [r for r in rows if r.rank == 1]
    return charts.bar_chart(
        [r.region for r in leaders],
        [r.revenue_cents for r in leaders],
        title="Revenue of each region's top customer",
        unit=charts.money_unit(),
    )


def _daily_revenue_chart(rows) -> Markup:
    return charts.line_chart(
        [r.day.strftime("%b %d") for r in rows],
        {
            "revenue per day": [r.revenue_cents for r in rows],
            "7-day moving average": [float(r.moving_avg_7d_cents) for r in rows],
        },
        title="Revenue per day",
        unit=charts.money_unit(),
    )


def _product_ranking_chart(rows) -> Markup:
    return charts.bar_chart(
        [str(r.revenue_rank) for r in rows],
        [r.revenue_cents for r in rows],
        title="Revenue by product rank (A class in blue)",
        unit=charts.money_unit(),
        highlight=[r.abc_class != "A" for r in rows],
    )


def _stock_cover_chart(rows) -> Markup:
    covered = [r for r in rows if r.days_of_cover is not None][:40]
    return charts.bar_chart(
        [r.sku for r in covered],
        [r.days_of_cover for r in covered],
        title="Days of cover, most urgent first (reorder in red)",
        unit=charts.DAYS,
        highlight=[r.reorder for r in covered],
    )


def _cohort_chart(rows) -> Markup:
    cohorts = sorted({r.cohort for r in rows})
    offsets = sorted({r.month_offset for r in rows})
    index = {cohort: i for i, cohort in enumerate(cohorts)}
    cells = {(index[r.cohort], offsets.index(r.month_offset)): float(r.retention) for r in rows}
    return charts.heat_map(
        [c.strftime("%Y-%m") for c in cohorts],
        [f"+{m}" for m in offsets],
        cells,
        title="Share of each cohort ordering, by months since joining",
    )


REPORTS = {
    report.slug: report
    for report in (
        Report(
            "top-customers",
            "Top customers by region",
            "Customers ranked within their region by revenue, with their share of the region.",
            "top_customers.sql",
            TopCustomersForm,
            (
                Column("region", "Region"),
                Column("rank", "Rank", "int"),
                Column("name", "Customer"),
                Column("email", "Email"),
                Column("orders", "Orders", "int"),
                Column("revenue_cents", "Revenue", "money"),
                Column("region_share", "Share of region", "percent"),
            ),
            _top_customers_chart,
            plan="top_customers_plan.sql",  # which customer sales window, if any
        ),
        Report(
            "daily-revenue",
            "Daily revenue",
            "Revenue and orders per day, running total and 7-day moving average.",
            "daily_revenue.sql",
            DateRangeForm,
            (
                Column("day", "Day", "date"),
                Column("orders", "Orders", "int"),
                Column("revenue_cents", "Revenue", "money"),
                Column("running_total_cents", "Running total", "money"),
                Column("moving_avg_7d_cents", "7-day average", "money"),
            ),
            _daily_revenue_chart,
        ),
        Report(
            "product-ranking",
            "Product ranking",
            "Units and revenue per product, revenue rank, cumulative share and ABC class.",
            "product_ranking.sql",
            ProductRankingForm,
            (
                Column("revenue_rank", "Rank", "int"),
                Column("sku", "SKU"),
                Column("name", "Product"),
                Column("units", "Units", "int"),
                Column("revenue_cents", "Revenue", "money"),
                Column("cumulative_share", "Cumulative share", "percent"),
                Column("abc_class", "Class"),
            ),
            _product_ranking_chart,
        ),
        Report(
            "stock-cover",
            "Stock cover",
            "Stock on hand against recent sales: days of cover and what to reorder.",
            "stock_cover.sql",
            StockCoverForm,
            (
                Column("sku", "SKU"),
                Column("name", "Product"),
                Column("stock", "Stock", "int"),
                Column("daily_units", "Units per day", "number"),
                Column("days_of_cover", "Days of cover", "number"),
                Column("reorder", "Reorder", "flag"),
            ),
            _stock_cover_chart,
        ),
        Report(
            "cohort-retention",
            "Cohort retention",
            "Customers grouped by the month of their first order; the share ordering"
            " in each month after.",
            "cohort_retention.sql",
            CohortForm,
            (
                Column("cohort", "Cohort", "date"),
                Column("month_offset", "Months later", "int"),
                Column("active", "Customers ordering", "int"),
                Column("cohort_size", "Cohort size", "int"),
                Column("retention", "Retention", "percent"),
            ),
            _cohort_chart,
        ),
    )
}

__all__ = ["REPORTS", "Column", "Report", "csv_value", "show"]
