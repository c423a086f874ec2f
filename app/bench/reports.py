"""The report benchmark: each report page at its default filters against the bare
SQL execution time EXPLAIN ANALYZE reports, at 100k and 1M orders."""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import dataclass

import flask_migrate
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.auth.admins import set_admin_password
from app.config import sqlalchemy_url
from app.db.transactions import run_in_transaction
from app.extensions import db
from app.reports.definitions import REPORTS
from app.reports.runner import explain_report
from app.seed.cli import run_seed
from app.seed.generate import SeedSizes

SIZES = (
    SeedSizes(customers=10_000, products=1_000, orders=100_000),
    SeedSizes(customers=100_000, products=5_000, orders=1_000_000),
)
ADMIN = ("bench@example.com", "benchmark password")
PAGE_RUNS = 5
EXPLAIN_RUNS = 3


@dataclass
class ReportTiming:
    """One report at one data size."""

    slug: str
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


def time_reports(app: Flask) -> list[ReportTiming]:
    """Median page time (full request: login session, SQL, table, chart) and median
    EXPLAIN ANALYZE execution time of every report at its default filters."""
    client = admin_client(app)
    timings = []
    for slug, report in REPORTS.items():
        samples, response = time_page(client, f"/reports/{slug}", PAGE_RUNS)
        rows = response.text.count("<tr>") - 1
        with app.test_request_context(f"/reports/{slug}"), app.app_context():
            params = report.form().params()
            executions = [explain_report(report, params)[1] for _ in range(EXPLAIN_RUNS)]
        timings.append(
            ReportTiming(slug, rows, statistics.median(samples), statistics.median(executions))
        )
    return timings
