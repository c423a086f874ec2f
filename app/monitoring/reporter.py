"""The reporter thread of a gunicorn worker and of the jobs process: every
DB_REPORT_INTERVAL seconds it writes the process's report row
(app/monitoring/worker_reports.py), hands the pool's state to whatever else
publishes per process (the history, given as ``tick``), and logs when the
deployment stops matching the pool plan. It runs no jobs."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from app.db.transactions import DbSession, run_in_transaction
from app.extensions import db
from app.monitoring.deployment import deployment_check
from app.monitoring.pool_tracking import checked_out
from app.monitoring.statements import MONITORING_THREAD
from app.monitoring.worker_reports import forget_worker, worker_snapshot, write_report

log = logging.getLogger(__name__)

# Called on every report with the session, the pool's state and the clock (tests).
Tick = Callable[[DbSession, dict, float | None], None]


class Reporter(threading.Thread):
    """Background thread of a process: reports every DB_REPORT_INTERVAL s."""

    def __init__(self, app: Flask, tick: Tick | None = None) -> None:
        super().__init__(name=MONITORING_THREAD, daemon=True)
        self.app = app
        self.interval = app.config["DB_REPORT_INTERVAL"]
        self.tick = tick
        self.stopping = threading.Event()
        self._last_warnings: tuple[str, ...] = ()

    def run(self) -> None:
        while True:
            self.report()
            if self.stopping.wait(self.interval):
                return

    def report(self, now: float | None = None) -> None:
        """One report, then ``tick`` (``now``: the clock, for tests), then a
        look at the whole deployment; a database outage only skips them."""
        with self.app.app_context():
            try:
                row = worker_snapshot(self.app)
                run_in_transaction(
                    db.session, lambda session: write_report(session, self.app, row=row)
                )
                pool_state = {**row["pool"], "peak": checked_out.take_peak()}
                if self.tick is not None:
                    self.tick(db.session, pool_state, now)
                self._warn_about_deployment()
            except SQLAlchemyError as error:
                log.debug("monitoring report skipped: %s", str(error).splitlines()[0])
            finally:
                db.session.remove()

    def _warn_about_deployment(self) -> None:
        # Logged when the set of warnings changes, not on every report.
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
