"""The report benchmark: each report page at its default and its widest filters
against the bare SQL execution time EXPLAIN ANALYZE reports (a page over the report
time limit shows as nan), and the admin's lists (first and deep pages, every offered
sort, a filter, a search), at the sizes asked for (100k and 1M orders by default)."""

from __future__ import annotations

import logging
import math
import statistics
import time
from dataclasses import dataclass
from datetime import date, timedelta

import flask_migrate
from flask import Flask, request
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.auth.admins import set_admin_password
from app.config import sqlalchemy_url
from app.db.transactions import run_in_transaction
from app.extensions import db
from app.reports.definitions import REPORTS
from app.reports.forms import EARLIEST, MAX_RANGE_DAYS, today
from app.reports.runner import explain_report
from app.seed.cli import run_seed
from app.seed.generate import SeedSizes

DEFAULT_ORDERS = (100_000, 1_000_000)
# The admin list pages timed at each size: the first page, a deep page (the last one
# offered on a large table), every offered sort, a filter and a search.
ADMIN_LISTS = (
    "/admin/order/",
    "/admin/order/?page=200",
    "/admin/order/?sort=1&desc=1",
    "/admin/order/?sort=1",
    "/admin/order/?flt0_2=cancelled",
    "/admin/order/?flt0_14=42",
    "/admin/customer/",
    "/admin/customer/?sort=1",
    "/admin/customer/?sort=2",
    "/admin/customer/?search=smith",
    "/admin/product/",
    "/admin/product/?sort=2",
)


def sizes_for(orders: int) -> SeedSizes:
    """The seed's shape at ``orders`` orders: a customer per ten orders (at least
    1,000, at most 500,000) and a product per 200 (1,000 to 10,000)."""
    return SeedSizes(
        customers=min(max(orders // 10, 1_000), 500_000),
        products=min(max(orders // 200, 1_000), 10_000),
        orders=orders,
    )


ADMIN = ("bench@example.com", "benchmark password")
PAGE_RUNS = 5
EXPLAIN_RUNS = 3


def widest_filters(today: date) -> dict[str, str]:
    """Each report's widest allowed filters, as a query string: three years for the
    date ranges, a year of sales for stock cover, 36 months of every cohort."""
    three_years = f"date_from={today - timedelta(days=MAX_RANGE_DAYS)}&date_to={today}"
    return {
        "top-customers": three_years,
        "daily-revenue": three_years,
        "product-ranking": three_years,
        "stock-cover": "days=365",
        "cohort-retention": f"date_from={EARLIEST}&max_months=36",
    }


@dataclass
class ReportTiming:
    """One report at one data size, with its default or its widest filters."""

    slug: str
    filters: str  # "default" or "widest"
    rows: int
    page_ms: float
    execution_ms: float

    @property
    def ratio(self) -> float:
        """Page time over SQL execution time (the goal: at most 1.2)."""
        return self.page_ms / self.execution_ms


def prepare(app_factory, url: str, sizes: SeedSizes, until) -> Flask:
    """Migrate and seed the bench database at ``url``; return an app on it."""
    app = app_factory(
        {
            "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(url),
            "SECRET_KEY": "bench",
            "REQUEST_LOG": False,
        }
    )
    with app.app_context():
        flask_migrate.upgrade()
        run_seed(sizes, random_seed=1, until=until, replace=True)
        run_in_transaction(db.session, lambda session: set_admin_password(session, *ADMIN))
    return app


def admin_client(app: Flask) -> FlaskClient:
    """A test client logged in as the bench admin (per-request log lines silenced:
    they would bury the table)."""
    logging.getLogger("stockroom.request").setLevel(logging.WARNING)
    client = app.test_client()
    page = client.get("/login")
    token = page.text.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post("/login", data={"email": ADMIN[0], "password": ADMIN[1], "csrf_token": token})
    return client


def time_page(client: FlaskClient, path: str, runs: int) -> tuple[list[float], TestResponse]:
    """Milliseconds of ``runs`` whole requests of ``path`` after one warm-up request
    (plans, caches), and the last response; RuntimeError unless each answers 200."""
    client.get(path)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")
    return samples, response


def time_admin_lists(app: Flask) -> dict[str, float]:
    """Median milliseconds of each of ADMIN_LISTS (whole request)."""
    client = admin_client(app)
    return {path: statistics.median(time_page(client, path, PAGE_RUNS)[0]) for path in ADMIN_LISTS}


def time_reports(app: Flask) -> list[ReportTiming]:
    """Median page time (full request: login session, SQL, table, chart) and median
    EXPLAIN ANALYZE execution time of every report at its default filters and at its
    widest allowed ones."""
    client = admin_client(app)
    timings = []
    widest = widest_filters(today())
    for slug, report in REPORTS.items():
        for filters, query_string in (("default", ""), ("widest", widest[slug])):
            path = f"/reports/{slug}?{query_string}"
            try:
                samples, response = time_page(client, path, PAGE_RUNS)
            except RuntimeError:  # over the report time limit: shown as such
                timings.append(ReportTiming(slug, filters, 0, math.nan, math.nan))
                continue
            rows = response.text.count("<tr>") - 1
            with app.test_request_context(path), app.app_context():
                form = report.form(request.args)
                if not form.validate():
                    raise RuntimeError(f"{path}: {form.errors}")
                params = form.params()
                executions = [explain_report(report, params)[1] for _ in range(EXPLAIN_RUNS)]
            timings.append(
                ReportTiming(
                    slug,
                    filters,
                    rows,
                    statistics.median(samples),
                    statistics.median(executions),
                )
            )
    return timings
