"""The rollups' audit: a job that asks a sample of report questions twice, once
as the report pages do (the rollups plus the changes still queued, or a customer
window) and once from the raw orders, in one snapshot, and records whether the
answers agree (``rollup_audits``). The overview's rollups check turns critical on
the first difference: something changed the orders behind the rollups' back (a
trigger dropped, a table edited with triggers disabled) and ``flask rollup
rebuild`` is due.

The sample is a handful of bounded questions per run, drawn afresh each period:
a week of daily revenue and of product ranking somewhere in the last 400 days,
today's revenue, the top customers of the last 30 days (the 30-day window's range)
in all regions and in one, 30 days of stock cover, and a year of cohorts from a
random month. Each reads at most a month or a year of one rollup and the same span
of orders, under the reports' own statement timeout.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import Flask
from sqlalchemy import Connection, Engine

from app.customers.models import REGIONS
from app.db.sql import query
from app.db.transactions import DbSession, run_in_transaction
from app.extensions import db
from app.jobs.scheduler import Job
from app.reports.definitions import REPORTS
from app.reports.forms import today
from app.reports.rollups.upkeep import Freshness

# Differences kept per audit row (enough to see what went wrong).
MAX_REPORTED = 5


@dataclass(frozen=True)
class Difference:
    """One question the rollups answered otherwise than the raw orders."""

    slug: str
    params: dict
    from_rollups: list[tuple]
    from_orders: list[tuple]

    def summary(self) -> dict:
        """JSON for the audit row: the question and the first rows that differ."""
        first = next(
            (
                index
                for index, (a, b) in enumerate(
                    zip(self.from_rollups, self.from_orders, strict=False)
                )
                if a != b
            ),
            min(len(self.from_rollups), len(self.from_orders)),
        )
        return {
            "report": self.slug,
            "params": {key: str(value) for key, value in self.params.items()},
            "rows": [len(self.from_rollups), len(self.from_orders)],
            "first_difference": {
                "rollups": _plain(self.from_rollups[first : first + 1]),
                "orders": _plain(self.from_orders[first : first + 1]),
            },
        }


def _plain(rows: list[tuple]) -> list[list[str]]:
    return [[str(value) for value in row] for row in rows]


def sample(rng: random.Random, on: date | None = None) -> list[tuple[str, dict]]:
    """This run's questions: (report slug, its form's parameters)."""
    day = on or today()
    week_end = day - timedelta(days=rng.randrange(0, 400))
    week = {"date_from": week_end - timedelta(days=6), "date_to": week_end + timedelta(days=1)}
    month = {"date_from": day - timedelta(days=29), "date_to": day + timedelta(days=1)}
    first_of_month = day.replace(day=1)
    months_back = rng.randrange(0, 12)
    cohort_start = first_of_month
    for _ in range(months_back):
        cohort_start = (cohort_start - timedelta(days=1)).replace(day=1)
    return [
        ("daily-revenue", week),
        ("daily-revenue", {"date_from": day, "date_to": day + timedelta(days=1)}),
        ("product-ranking", {**week, "row_limit": 100}),
        ("top-customers", {**month, "top_n": 10, "region": None}),
        ("top-customers", {**month, "top_n": 5, "region": rng.choice(REGIONS)}),
        (
            "stock-cover",
            {"since": day - timedelta(days=29), "days": 30, "reorder_days": 14, "row_limit": 100},
        ),
        (
            "cohort-retention",
            {"date_from": cohort_start, "date_to": day + timedelta(days=1), "max_months": 12},
        ),
    ]


def both_ways(conn: Connection, slug: str, params: dict) -> tuple[list[tuple], list[tuple]]:
    """The report's rows as its page reads them (rollups, queue, its plan's window)
    and from the raw orders, on ``conn`` (one snapshot: REPEATABLE READ)."""
    report = REPORTS[slug]
    statement = query("app.reports", report.sql)
    planned = {**params, "rollups": True}
    raw = {**params, "rollups": False}
    if report.plan:
        planned |= conn.execute(query("app.reports", report.plan), planned).one()._asdict()
        raw |= {key: None for key in planned if key not in raw}
    return (
        [tuple(row) for row in conn.execute(statement, planned)],
        [tuple(row) for row in conn.execute(statement, raw)],
    )


def compare(conn: Connection, questions: list[tuple[str, dict]]) -> list[Difference]:
    """The questions whose two answers differ."""
    found = []
    for slug, params in questions:
        from_rollups, from_orders = both_ways(conn, slug, params)
        if from_rollups != from_orders:
            found.append(Difference(slug, params, from_rollups, from_orders))
    return found


def audit(engine: Engine, app: Flask, rng: random.Random) -> tuple[int, list[Difference] | None]:
    """One audit on ``engine``: (questions asked, differences); differences is None
    when the rollups are not in use yet (their backfill is not through)."""
    options = {"postgresql_readonly": True, "isolation_level": "REPEATABLE READ"}
    settings = {
        "statement_timeout": str(app.config["REPORT_STATEMENT_TIMEOUT_MS"]),
        "work_mem": app.config["REPORT_WORK_MEM"],
        "random_page_cost": app.config["REPORT_RANDOM_PAGE_COST"],
    }
    with engine.connect().execution_options(**options) as conn:
        try:
            conn.execute(query("app.reports", "session_settings.sql"), settings).one()
            if not Freshness.read(conn).ready:
                return 0, None
            questions = sample(rng)
            return len(questions), compare(conn, questions)
        finally:
            conn.rollback()


def _audit_job(app: Flask, session: DbSession, period_start: datetime) -> None:
    """Job: audit a sample drawn from the period (the same period asks the same
    questions) on a connection of its own, then record the outcome."""
    asked, differences = audit(db.engine, app, random.Random(period_start.timestamp()))
    record = {
        "questions": asked,
        "different": None if differences is None else len(differences),
        "differences": None
        if differences is None
        else json.dumps([d.summary() for d in differences[:MAX_REPORTED]]),
    }
    run_in_transaction(
        session, lambda s: s.execute(query("app.reports.rollups", "audit_record.sql"), record)
    )


# Not atomic: its claim commits first, so the audit's own connection is the only
# one the job holds while it reads.
AUDIT_JOB = Job(
    "rollup-audit",
    lambda app: app.config["ROLLUP_AUDIT_SECONDS"],
    _audit_job,
    atomic=False,
)
