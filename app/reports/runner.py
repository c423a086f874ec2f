"""Running a report: one read-only transaction with its own limits, on the reports
database (REPORTS_DATABASE_URL, e.g. a streaming replica) or the primary.

On a replica, the statement that sets the report's limits also reads how far
behind the replica is (no extra round trip). A replica further behind than
REPORTS_MAX_LAG_SECONDS, or one that cannot be reached, is skipped: the report
runs on the primary instead, read-only and under the same limits, and says so.
A replica that goes away while a report runs on it is a clear 503, never a 500.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from flask import current_app
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError, OperationalError

from app.db.errors import first_line
from app.db.sql import query, sql_file
from app.db.transactions import sqlstate
from app.extensions import db
from app.monitoring.counters import labelled_counter
from app.reports.definitions import Report
from app.reports.rollups.upkeep import Freshness

log = logging.getLogger(__name__)
QUERY_CANCELED = "57014"
# A replica cancels a query whose snapshot conflicts with the WAL it must replay.
RECOVERY_CONFLICT = "40001"
T = TypeVar("T")


class ReportTimeout(Exception):
    """The report ran longer than REPORT_STATEMENT_TIMEOUT_MS and was stopped."""


class ReportDatabaseLost(Exception):
    """The reports database went away while the report ran on it."""


@dataclass(frozen=True)
class ReportSource:
    """Where a report ran, and why there."""

    database: str  # "primary", "replica", or "reports" (a reports database that is no replica)
    lag_seconds: float | None = None  # replicas: how far behind the primary
    caught_up: bool = False  # replicas: streaming, and everything received is replayed
    fallback: str | None = None  # why the primary ran it although a replica is configured

    @property
    def description(self) -> str:
        """One line for the page footer."""
        if self.database == "replica":
            if self.caught_up:
                return "ran on the replica (no lag)"
            return f"ran on the replica, {self.lag_seconds:.1f} s behind the primary"
        if self.database == "reports":
            return "ran on the reports database"
        if self.fallback:
            return f"ran on the primary: {self.fallback}"
        return "ran on the primary"


@dataclass
class ReportResult:
    """A report's rows, how long the database took, where it ran, and what the
    answer is as of."""

    rows: list
    elapsed_ms: float
    source: ReportSource = ReportSource("primary")
    freshness: Freshness | None = None

    @property
    def as_of(self) -> str:
        """The footer's sentence on freshness."""
        if self.freshness is None:
            return ""
        return self.freshness.describe(self.source.lag_seconds)


@dataclass(frozen=True)
class _Skip:
    """Why the replica was not used: a metrics label and a sentence."""

    kind: str  # lag, unknown-lag, unreachable, recovery-conflict
    reason: str


class _ReplicaBreaker:
    """After a failed connection, skip the replica for a few seconds: a host that
    does not answer would otherwise cost every report the connect timeout."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._reason = ""

    def open_reason(self) -> str | None:
        """Why the replica is being skipped now, or None when it may be tried."""
        with self._lock:
            return self._reason if time.monotonic() < self._down_until else None

    def trip(self, reason: str, seconds: float) -> None:
        """Skip the replica for ``seconds`` because of ``reason``."""
        with self._lock:
            self._down_until = time.monotonic() + seconds
            self._reason = reason


_breaker = _ReplicaBreaker()


def reports_engine():
    """The engine reports prefer (the reports database if configured)."""
    return db.engines.get("reports") or db.engine


def _settings() -> dict:
    config = current_app.config
    return {
        "statement_timeout": str(config["REPORT_STATEMENT_TIMEOUT_MS"]),
        "work_mem": config["REPORT_WORK_MEM"],
        "random_page_cost": config["REPORT_RANDOM_PAGE_COST"],
    }


def _replica_lag(status) -> float | None:
    """Seconds the replica is behind: 0.0 when streaming and fully replayed (a
    disconnected replica also has received = replayed, so it counts as behind by
    the age of its last replayed transaction); None when unknown."""
    if status.streaming and status.caught_up:
        return 0.0
    if status.replay_age_seconds is None:
        return None
    return max(float(status.replay_age_seconds), 0.0)


def _begin(conn: Connection):
    # BEGIN READ ONLY (psycopg sends it with the first statement), then one
    # statement that sets the limits and reads the replica's state.
    return conn.execute(query("app.reports", "session_settings.sql"), _settings()).one()


REPORTS_RUN = labelled_counter(
    "stockroom_reports_total", "Reports run, by the database that ran them.", "database"
)
REPLICA_FALLBACKS = labelled_counter(
    "stockroom_reports_replica_fallbacks_total",
    "Reports run on the primary because the replica was behind, unreachable or in conflict.",
    "reason",
)


# One snapshot for the whole report: the rollups' state it reads first and the
# report's own statement see the same data.
_REPORT_TRANSACTION = {"postgresql_readonly": True, "isolation_level": "REPEATABLE READ"}


def _on_primary(work: Callable[[Connection], T], fallback: str | None) -> tuple[T, ReportSource]:
    with db.engine.connect().execution_options(**_REPORT_TRANSACTION) as conn:
        try:
            _begin(conn)
            return work(conn), ReportSource("primary", fallback=fallback)
        finally:
            conn.rollback()


def _on_replica(work: Callable[[Connection], T], engine) -> tuple[T, ReportSource] | _Skip:
    """The work's result on the reports database, or why it was skipped."""
    config = current_app.config
    retry_after = config["REPORTS_REPLICA_RETRY_SECONDS"]
    if reason := _breaker.open_reason():
        return _Skip("unreachable", reason)
    try:
        conn = engine.connect().execution_options(**_REPORT_TRANSACTION)
    except OperationalError as error:
        reason = f"the replica cannot be reached ({first_line(error)})"
        _breaker.trip(reason, retry_after)
        return _Skip("unreachable", reason)
    with conn:
        try:
            try:
                status = _begin(conn)
            except OperationalError as error:
                reason = f"the replica cannot be reached ({first_line(error)})"
                _breaker.trip(reason, retry_after)
                return _Skip("unreachable", reason)
            if not status.in_recovery:
                return work(conn), ReportSource("reports")
            lag = _replica_lag(status)
            limit = config["REPORTS_MAX_LAG_SECONDS"]
            if lag is None:
                return _Skip(
                    "unknown-lag", "the replica's lag is unknown (it has replayed nothing yet)"
                )
            if lag > limit:
                return _Skip(
                    "lag",
                    f"the replica is {lag:.1f} s behind (more than REPORTS_MAX_LAG_SECONDS="
                    f"{limit})",
                )
            caught_up = bool(status.streaming and status.caught_up)
            try:
                return work(conn), ReportSource("replica", lag_seconds=lag, caught_up=caught_up)
            except OperationalError as error:
                if sqlstate(error) == RECOVERY_CONFLICT:
                    return _Skip(
                        "recovery-conflict",
                        "the replica cancelled the report (conflict with WAL replay)",
                    )
                if not error.connection_invalidated:
                    raise
                _breaker.trip(f"the replica went away ({first_line(error)})", retry_after)
                raise ReportDatabaseLost(first_line(error)) from error
        finally:
            if not conn.invalidated:
                with contextlib.suppress(DBAPIError):
                    conn.rollback()


def in_report_transaction(work: Callable[[Connection], T]) -> tuple[T, ReportSource]:
    """Run ``work(conn)`` in a read-only report transaction: on the replica when one
    is configured and fresh enough, else on the primary (saying why)."""
    try:
        engine = db.engines.get("reports")
        if engine is not None:
            outcome = _on_replica(work, engine)
            if not isinstance(outcome, _Skip):
                REPORTS_RUN.inc(outcome[1].database)
                return outcome
            log.warning("report on the primary: %s", outcome.reason)
            REPORTS_RUN.inc("primary")
            REPLICA_FALLBACKS.inc(outcome.kind)
            return _on_primary(work, outcome.reason)
        REPORTS_RUN.inc("primary")
        return _on_primary(work, None)
    except OperationalError as error:
        if sqlstate(error) == QUERY_CANCELED:
            raise ReportTimeout() from error
        raise


def _in_read_only_transaction(work: Callable[[Connection], T]) -> T:
    """``work(conn)`` in a report transaction, without where it ran (tests)."""
    return in_report_transaction(work)[0]


def _planned(conn: Connection, report: Report, params: dict) -> tuple[dict, Freshness]:
    """The parameters for the report's SQL, and what it reads: the rollups when they
    are ready (and its plan, if it has one, chooses them)."""
    freshness = Freshness.read(conn)
    params = {**params, "rollups": freshness.ready}
    if report.plan:
        params |= conn.execute(query("app.reports", report.plan), params).one()._asdict()
        if freshness.ready and not params["rollups"]:
            freshness = freshness.without_rollups()
    return params, freshness


def run_report(report: Report, params: dict) -> ReportResult:
    """The report's rows for ``params``."""

    def work(conn):
        started = time.perf_counter()
        planned, freshness = _planned(conn, report, params)
        rows = conn.execute(query("app.reports", report.sql), planned).all()
        return rows, (time.perf_counter() - started) * 1000, freshness

    (rows, elapsed_ms, freshness), source = in_report_transaction(work)
    return ReportResult(rows, elapsed_ms, source, freshness)


def explain_report(report: Report, params: dict) -> tuple[str, float, ReportSource]:
    """EXPLAIN (ANALYZE, BUFFERS) of the report for ``params``: (plan, execution ms,
    where it ran)."""

    def work(conn):
        planned, _ = _planned(conn, report, params)
        statement = text("EXPLAIN (ANALYZE, BUFFERS) " + sql_file("app.reports", report.sql))
        plan = "\n".join(row[0] for row in conn.execute(statement, planned))
        match = re.search(r"Execution Time: ([\d.]+) ms", plan)
        return plan, float(match.group(1)) if match else float("nan")

    (plan, execution_ms), source = in_report_transaction(work)
    return plan, execution_ms, source
