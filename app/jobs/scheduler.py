"""Periodic jobs that must run once per period across every worker and instance.

Each worker's background reporter calls :meth:`JobRunner.tick` every few seconds.
For each job, the period that has just closed is claimed by inserting
``(job, period_start)`` into ``db_job_runs`` with ``ON CONFLICT DO NOTHING``: one
insert wins, the rest see nothing returned and skip. No advisory or session lock
is involved, so it works the same through PgBouncer in transaction mode.

An atomic job runs in the claim's own transaction: if it fails, the claim rolls
back with it and another worker (or this one, next tick) tries again. A job that
needs many short transactions (pruning in batches) runs after its claim commits;
a failure then skips that period.
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

from app.db.sql import query
from app.db.transactions import DbSession, run_in_transaction

log = logging.getLogger(__name__)
CLAIMED_BY = f"{socket.gethostname()}:{os.getpid()}"


def claim(session: DbSession, job: str, period_start: datetime) -> bool:
    """Claim ``job`` for the period starting at ``period_start``; whether this call won."""
    won = session.execute(
        query("app.jobs", "job_claim.sql"),
        {"job": job, "period_start": period_start, "claimed_by": CLAIMED_BY},
    ).first()
    return won is not None


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
    """Have every worker's reporter run ``job`` for ``app`` (the app factory registers
    the domain's jobs; the database layer knows none of them)."""
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
            at = datetime.fromtimestamp(start, UTC)
            try:
                if self._claim_and_run(job, session, at):
                    ran.append(job.name)
            except SQLAlchemyError as error:
                log.warning("job %s for %s failed: %s", job.name, at, str(error).splitlines()[0])
            except Exception:  # a bug in one job must not stop the reporter
                log.exception("job %s for %s failed", job.name, at)
        return ran

    def _claim_and_run(self, job: Job, session: DbSession, at: datetime) -> bool:
        if job.atomic:

            def claim_and_run(s: DbSession) -> bool:
                won = claim(s, job.name, at)
                if won:
                    job.run(self.app, s, at)
                return won

            return run_in_transaction(session, claim_and_run)
        if not run_in_transaction(session, lambda s: claim(s, job.name, at)):
            return False
        job.run(self.app, session, at)
        return True
