"""Running a report: one read-only transaction with its own limits, on the reports
engine (REPORTS_DATABASE_URL, e.g. a replica) or the main one."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.db.sql import query, sql_file
from app.db.transactions import sqlstate
from app.extensions import db
from app.reports.definitions import Report

QUERY_CANCELED = "57014"


class ReportTimeout(Exception):
    """The report ran longer than REPORT_STATEMENT_TIMEOUT_MS and was stopped."""


@dataclass
class ReportResult:
    """A report's rows and how long the database took."""

    rows: list
    elapsed_ms: float


def reports_engine():
    """The engine reports run on."""
    return db.engines.get("reports") or db.engine


def _settings() -> dict:
    config = current_app.config
    return {
        "statement_timeout": str(config["REPORT_STATEMENT_TIMEOUT_MS"]),
        "work_mem": config["REPORT_WORK_MEM"],
        "random_page_cost": config["REPORT_RANDOM_PAGE_COST"],
    }


def _in_read_only_transaction(work):
    with reports_engine().connect() as conn:
        try:
            # First statement of the transaction: nothing in it can write.
            conn.execute(text("SET TRANSACTION READ ONLY"))
            conn.execute(query("app.reports", "session_settings.sql"), _settings())
            return work(conn)
        except OperationalError as error:
            if sqlstate(error) == QUERY_CANCELED:
                raise ReportTimeout() from error
            raise
        finally:
            conn.rollback()


def run_report(report: Report, params: dict) -> ReportResult:
    """The report's rows for ``params``."""

    def work(conn):
        started = time.perf_counter()
        rows = conn.execute(query("app.reports", report.sql), params).all()
        return ReportResult(rows, (time.perf_counter() - started) * 1000)

    return _in_read_only_transaction(work)


def explain_report(report: Report, params: dict) -> tuple[str, float]:
    """EXPLAIN (ANALYZE, BUFFERS) of the report for ``params``: (plan, execution ms)."""

    def work(conn):
        statement = text("EXPLAIN (ANALYZE, BUFFERS) " + sql_file("app.reports", report.sql))
        plan = "\n".join(row[0] for row in conn.execute(statement, params))
        match = re.search(r"Execution Time: ([\d.]+) ms", plan)
        return plan, float(match.group(1)) if match else float("nan")

    return _in_read_only_transaction(work)
