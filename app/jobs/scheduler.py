"""Periodic jobs that must run once per period across every jobs process and instance.

The jobs process (``flask jobs run``, app/serving/jobs_process.py) calls
:meth:`JobRunner.tick` every second; gunicorn's workers run no jobs. For each job,
the period that has just closed is claimed by inserting ``(job, period_start)``
into ``db_job_runs``: one insert wins, the others see nothing returned and skip.
No advisory or session lock is involved, so it works the same through PgBouncer in
transaction mode, and any number of jobs processes may run.

An atomic job runs in the claim's own transaction: if it fails, the claim rolls
back with it, the failure is recorded, and the period may be claimed again (by
another process, or by this one at its next period). A job that needs many short
transactions (pruning in batches, the rollups' fold) runs after its claim commits;
a process killed meanwhile leaves the claim without an outcome, and the next
period's run catches up (those jobs work from queues and watermarks, not from the
period).

Each run's end is recorded on its claim (outcome, duration, error), which the
overview's jobs check and ``stockroom_job_last_success_timestamp_seconds`` read,
and counted in this process's ``stockroom_job_runs_total`` and
``stockroom_job_duration_seconds``.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from app.db.errors import first_line
from app.db.sql import query
from app.db.transactions import DbSession, run_in_transaction
from app.monitoring.counters import histogram, labelled_counter
from app.monitoring.statement_tags import current_job

log = logging.getLogger(__name__)
SUCCESS, FAILURE = "success", "failure"
# A job whose last success is older than this many periods is overdue (the overview).
OVERDUE_PERIODS = 3
# Claims kept per job, whether or not the console's history is on.
KEEP_RUNS_DAYS = 30

JOB_RUNS = labelled_counter(
    "stockroom_job_runs_total",
    "Periodic job runs this process made, by job and outcome (success or failure).",
    "job",
    "outcome",
)
JOB_SECONDS = histogram(
    "stockroom_job_duration_seconds",
    "How long each periodic job run took, by job.",
    "job",
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0),
)


def claimed_by() -> str:
    """This process, as its claims name it (worked out per call: forked children
    have their own pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(session: DbSession, job: str, period_start: datetime) -> bool:
    """Claim ``job`` for the period starting at ``period_start``; whether this call won
    (a period whose run failed can be claimed again)."""
    won = session.execute(
        query("app.jobs", "job_claim.sql"),
        {"job": job, "period_start": period_start, "claimed_by": claimed_by()},
    ).first()
    return won is not None


def record_outcome(
    session: DbSession, job: str, period_start: datetime, seconds: float, error: str | None
) -> None:
    """Write how a run ended onto its claim (a failed atomic run, whose claim rolled
    back, gets its row back, marked failed, unless another run succeeded meanwhile)."""
    session.execute(
        query("app.jobs", "job_outcome.sql"),
        {
            "job": job,
            "period_start": period_start,
            "claimed_by": claimed_by(),
            "outcome": FAILURE if error else SUCCESS,
            "seconds": seconds,
            "error": error,
        },
    )
    # A row or two per run, by the primary key: the claim table stays bounded.
    session.execute(query("app.jobs", "job_runs_prune.sql"), {"job": job, "days": KEEP_RUNS_DAYS})


@dataclass(frozen=True)
class Job:
    """A job run once per ``period(app)`` seconds, for the period that just closed
    (``delay`` seconds after it closed, so late writers have finished)."""

    name: str
    period: Callable[[Flask], float]
    run: Callable[[Flask, DbSession, datetime], object]
    atomic: bool = True
    delay: float = 0.0


_REGISTERED = "stockroom.jobs"


def register(app: Flask, job: Job) -> None:
    """Have the jobs process run ``job`` for ``app`` (the app factory registers the
    domains' and the history's jobs; this package knows none of them)."""
    app.extensions.setdefault(_REGISTERED, []).append(job)


def registered(app: Flask) -> list[Job]:
    """The jobs registered for ``app``."""
    return list(app.extensions.get(_REGISTERED, []))


class JobRunner:
    """Runs the due jobs of one process; each period is tried once per process."""

    def __init__(self, app: Flask, jobs: list[Job]) -> None:
        self.app = app
        self.jobs = jobs
        self.tried: dict[str, float] = {}

    def tick(self, session: DbSession, now: float | None = None) -> list[str]:
        """Claim and run what is due; the names of the jobs this process ran."""
        now = time.time() if now is None else now
        ran = []
        for job in self.jobs:
            period = job.period(self.app)
            start = (now - job.delay) - (now - job.delay) % period - period
            if self.tried.get(job.name, -1.0) >= start:
                continue
            self.tried[job.name] = start
            if self._claim_and_run(job, session, datetime.fromtimestamp(start, UTC)):
                ran.append(job.name)
        return ran

    def _claim_and_run(self, job: Job, session: DbSession, at: datetime) -> bool:
        started = time.perf_counter()
        # The job's statements name it in their comment (app/monitoring/statement_tags.py).
        token = current_job.set(job.name)
        try:
            return self._run(job, session, at, started)
        finally:
            current_job.reset(token)

    def _run(self, job: Job, session: DbSession, at: datetime, started: float) -> bool:
        try:
            if job.atomic:

                def claim_and_run(s: DbSession) -> bool:
                    won = claim(s, job.name, at)
                    if won:
                        job.run(self.app, s, at)
                        record_outcome(s, job.name, at, time.perf_counter() - started, None)
                    return won

                won = run_in_transaction(session, claim_and_run)
            else:
                won = run_in_transaction(session, lambda s: claim(s, job.name, at))
                if won:
                    job.run(self.app, session, at)
                    self._record(session, job, at, started, None)
        except SQLAlchemyError as error:
            log.warning("job %s for %s failed: %s", job.name, at, first_line(error))
            self._record(session, job, at, started, first_line(error))
            return False
        except Exception as error:  # a bug in one job must not stop the others
            log.exception("job %s for %s failed", job.name, at)
            self._record(session, job, at, started, f"{type(error).__name__}: {error}")
            return False
        if won:
            JOB_RUNS.inc(job.name, SUCCESS)
            JOB_SECONDS.observe(time.perf_counter() - started, job.name)
        return won

    def _record(
        self, session: DbSession, job: Job, at: datetime, started: float, error: str | None
    ) -> None:
        seconds = time.perf_counter() - started
        if error is not None:
            JOB_RUNS.inc(job.name, FAILURE)
            JOB_SECONDS.observe(seconds, job.name)
        try:
            run_in_transaction(session, lambda s: record_outcome(s, job.name, at, seconds, error))
        except SQLAlchemyError as failure:  # the database is away: the log has it
            log.warning("could not record job %s's outcome: %s", job.name, first_line(failure))
