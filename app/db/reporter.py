"""Copies this worker's monitoring numbers into PostgreSQL every few seconds.

Each gunicorn worker has its own memory; the admin's database pages and /metrics
must show every worker from whichever one serves them. Each worker upserts one
row of pool state and counters, and one row per slow statement it has seen
changing; readers aggregate. A worker that exits removes its row; one that was
killed ages out (its row stops being refreshed).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import delete, func, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError

from app.db import counters
from app.db.history import Sampler
from app.db.models import SlowQueryReport, WorkerReport
from app.db.pool_tracking import checked_out, pool_snapshot
from app.db.recent import recent
from app.db.statements import MONITORING_THREAD, SlowStatements, slow_statements
from app.db.transactions import DbSession, run_in_transaction
from app.extensions import db

log = logging.getLogger(__name__)
HOST = socket.gethostname()
MISSED_REPORTS = 3
HISTORY = timedelta(days=1)  # slow statements not seen for this long are forgotten
STARTED_AT = datetime.now(UTC)


def worker_snapshot(app: Flask) -> dict:
    """This process's report row, as a dict."""
    plan = app.extensions.get("stockroom.pool_plan")
    return {
        "host": HOST,
        "pid": os.getpid(),
        "role": app.config.get("APP_ROLE") or ("web" if plan else "cli"),
        "instance": app.config["INSTANCE_NAME"],
        "started_at": STARTED_AT,
        "reported_at": datetime.now(UTC),
        "plan": plan.as_dict() if plan else None,
        "pool": pool_snapshot(db.engine.pool, app.config["DB_LEAK_SECONDS"]),
        "counters": counters.snapshot()
        | {"recent": recent.update(app.config["DB_CHECK_RECENT_MINUTES"] * 60)},
    }


def write_report(
    session: DbSession,
    app: Flask,
    slow: SlowStatements = slow_statements,
    row: dict | None = None,
) -> None:
    """Upsert this worker's row (``row``, or a fresh snapshot) and its changed slow
    statements."""
    row = row or worker_snapshot(app)
    statement = insert(WorkerReport).values(**row)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[WorkerReport.host, WorkerReport.pid],
            set_={key: statement.excluded[key] for key in row if key not in ("host", "pid")},
        )
    )
    rows = [{"host": HOST, "pid": row["pid"], **entry} for entry in slow.take_changed()]
    if rows:
        statement = insert(SlowQueryReport).values(rows)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[
                    SlowQueryReport.host,
                    SlowQueryReport.pid,
                    SlowQueryReport.fingerprint,
                ],
                set_={
                    key: statement.excluded[key]
                    for key in rows[0]
                    if key not in ("host", "pid", "fingerprint")
                },
            )
        )
    session.execute(
        delete(SlowQueryReport).where(
            SlowQueryReport.last_seen < func.now() - func.cast(literal(HISTORY), db.Interval)
        )
    )


def refresh_own_report(app: Flask) -> None:
    """Write this process's report now, so a page it serves includes it up to date
    (and processes that run no reporter, such as ``flask run``, appear at all)."""
    try:
        run_in_transaction(db.session, lambda session: write_report(session, app))
    except SQLAlchemyError as error:
        log.warning("could not write this worker's report: %s", str(error).splitlines()[0])


def live_reports(session: DbSession, app: Flask) -> Sequence[WorkerReport]:
    """Reports of workers still reporting (three missed reports and a worker is gone)."""
    window = timedelta(seconds=app.config["DB_REPORT_INTERVAL"] * MISSED_REPORTS)
    return session.scalars(
        select(WorkerReport)
        .where(WorkerReport.reported_at > func.now() - window)
        .order_by(WorkerReport.host, WorkerReport.pid)
    ).all()


def forget_worker(session: DbSession, pid: int) -> None:
    """Remove an exiting worker's row (its slow statements stay, as history)."""
    session.execute(delete(WorkerReport).where(WorkerReport.host == HOST, WorkerReport.pid == pid))


class Reporter(threading.Thread):
    """Background thread of a gunicorn worker: reports every DB_REPORT_INTERVAL s."""

    def __init__(self, app: Flask) -> None:
        super().__init__(name=MONITORING_THREAD, daemon=True)
        self.app = app
        self.interval = app.config["DB_REPORT_INTERVAL"]
        self.sampler = Sampler(app)
        self.stopping = threading.Event()
        self._last_warnings: tuple[str, ...] = ()

    def run(self) -> None:
        while True:
            self.report()
            if self.stopping.wait(self.interval):
                return

    def report(self, now: float | None = None) -> None:
        """One report, the history's tick (``now``: the clock, for tests), then a
        look at the whole deployment; a database outage only skips them."""
        with self.app.app_context():
            try:
                row = worker_snapshot(self.app)
                run_in_transaction(
                    db.session, lambda session: write_report(session, self.app, row=row)
                )
                pool_state = {**row["pool"], "peak": checked_out.take_peak()}
                self.sampler.tick(db.session, pool_state, now)
                self._warn_about_deployment()
            except SQLAlchemyError as error:
                log.debug("monitoring report skipped: %s", str(error).splitlines()[0])
            finally:
                db.session.remove()

    def _warn_about_deployment(self) -> None:
        # Logged when the set of warnings changes, not on every report.
        from app.db.deployment import deployment_check

        warnings = tuple(deployment_check(db.session, self.app)["warnings"])
        db.session.rollback()
        if warnings != self._last_warnings:
            for warning in warnings:
                log.warning("deployment: %s", warning)
            self._last_warnings = warnings

    def stop(self) -> None:
        """Stop reporting and remove this worker's row."""
        self.stopping.set()
        with self.app.app_context():
            try:
                run_in_transaction(db.session, lambda s: forget_worker(s, os.getpid()))
            except SQLAlchemyError:
                pass
            finally:
                db.session.remove()
