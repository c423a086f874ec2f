"""Each process's monitoring numbers as rows in PostgreSQL, and reading them back.

Each gunicorn worker has its own memory; the admin's database pages and /metrics
must show every worker from whichever one serves them. Each worker upserts one
row of pool state and counters, and one row per slow statement it has seen
changing (its reporter thread, app/monitoring/reporter.py, does so every few
seconds); readers aggregate. A worker that exits removes its row; one that was
killed ages out (its row stops being refreshed).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import delete, func, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError

from app.db.transactions import DbSession, run_in_transaction
from app.extensions import db
from app.monitoring import counters
from app.monitoring.models import SlowQueryReport, WorkerReport
from app.monitoring.pool_tracking import pool_snapshot
from app.monitoring.recent import recent
from app.monitoring.statements import SlowStatements, slow_statements

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
