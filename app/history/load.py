"""Database load as average active sessions (what AWS Performance Insights charts):
every second, the jobs process samples ``pg_stat_activity`` for the sessions of this
database that are running a statement, and counts them by wait event (none: on a
CPU, ``CPU``), route (from the statement's sqlcommenter comment,
app/monitoring/statement_tags.py) and statement shape. Each minute's counts land in
``db_history_load``, with the number of samples in ``db_history_load_samples``:
sessions / samples is the minute's average active sessions, and sums over any bins
of the console's windows stay exact averages.

One process samples each minute across all jobs processes: the sampler claims the
minute (app/jobs/scheduler.py's claims, job ``history-load-sample``) before it
samples it; a process that loses the claim sits that minute out. The cost is one
small query a second (measured in docs/console.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from app.db.errors import first_line
from app.db.sql import query
from app.db.transactions import DbSession, run_in_transaction
from app.extensions import db
from app.jobs.scheduler import claim, record_outcome
from app.monitoring.statement_tags import tags_of
from app.monitoring.statement_text import comparable, fingerprint

log = logging.getLogger(__name__)
JOB = "history-load-sample"
LOAD_STATEMENT_CHARS = 500
# (wait class, wait event, route, statement key, statement)
Key = tuple[str, str, str, str, str]


def route_of(statement: str, application_name: str | None) -> str:
    """Which route or job sent ``statement``: its comment's, else the client's
    application name without its per-process parts (``stockroom:web``)."""
    tags = tags_of(statement)
    if "job" in tags:
        return f"job:{tags['job']}"
    if "route" in tags:
        return tags["route"]
    name = application_name or ""
    return ":".join(name.split(":")[:2]) if name.startswith("stockroom:") else name or "(other)"


def counted(rows: Iterable[Any]) -> Counter[Key]:
    """One sample's active sessions, counted by wait, route and statement shape."""
    counts: Counter[Key] = Counter()
    for row in rows:
        shape = comparable(row.query or "") or "(no statement text)"
        counts[
            (
                row.wait_class,
                row.wait_event,
                route_of(row.query or "", row.application_name),
                fingerprint(shape),
                shape[:LOAD_STATEMENT_CHARS],
            )
        ] += 1
    return counts


def write(session: DbSession, bucket: datetime, counts: Counter[Key], samples: int) -> None:
    """Add ``samples`` samples and their ``counts`` to ``bucket``'s rows."""
    if counts:
        keys = list(counts)
        session.execute(
            query("app.history", "load_write.sql"),
            {
                "bucket": bucket,
                "wait_classes": [k[0] for k in keys],
                "wait_events": [k[1] for k in keys],
                "routes": [k[2] for k in keys],
                "statement_keys": [k[3] for k in keys],
                "statements": [k[4] for k in keys],
                "sessions": [counts[k] for k in keys],
            },
        )
    session.execute(
        query("app.history", "load_samples_write.sql"), {"bucket": bucket, "samples": samples}
    )


class LoadSampler(threading.Thread):
    """Samples the load every ``LOAD_SAMPLE_MS`` and writes it every
    ``LOAD_WRITE_MS`` (and when its minute ends), for the minutes it claims."""

    def __init__(self, app: Flask) -> None:
        super().__init__(name="stockroom-load-sampler", daemon=True)
        self.app = app
        self.interval = app.config["LOAD_SAMPLE_MS"] / 1000
        self.write_every = app.config["LOAD_WRITE_MS"] / 1000
        self.stopping = threading.Event()
        self.minute: datetime | None = None
        self.mine = False
        self.counts: Counter[Key] = Counter()
        self.samples = 0
        self.written_at = time.monotonic()
        # This thread's CPU seconds, for the cost the docs state.
        self.cpu_seconds = 0.0

    def stop(self) -> None:
        """Write what is counted and stop."""
        self.stopping.set()
        self.join(timeout=10)

    def run(self) -> None:
        started = time.thread_time()
        with self.app.app_context():
            try:
                while not self.stopping.is_set():
                    self.step(db.session, datetime.now(UTC))
                    self.cpu_seconds = time.thread_time() - started
                    self.stopping.wait(self.interval - time.time() % self.interval)
                self.flush(db.session)
            except SQLAlchemyError as error:
                log.warning("load sampler: last write lost: %s", first_line(error))
            finally:
                db.session.remove()

    def step(self, session: DbSession, now: datetime) -> None:
        """Claim a new minute when one starts, take one sample if the minute is
        ours, and write when it is time. A database error skips the sample."""
        minute = now.replace(second=0, microsecond=0)
        try:
            if minute != self.minute:
                self.flush(session, finished=True)
                self.minute = minute
                self.mine = run_in_transaction(session, lambda s: claim(s, JOB, minute))
            if not self.mine:
                return
            rows = session.execute(query("app.history", "load_sample.sql")).all()
            session.rollback()  # nothing held between samples
            self.counts.update(counted(rows))
            self.samples += 1
            if time.monotonic() - self.written_at >= self.write_every:
                self.flush(session)
        except SQLAlchemyError as error:
            session.rollback()
            log.warning("load sample skipped: %s", first_line(error))

    def flush(self, session: DbSession, finished: bool = False) -> None:
        """Write the counts kept since the last write into this minute's rows (and,
        at the minute's end, its claim's outcome)."""
        minute, counts, samples = self.minute, self.counts, self.samples
        self.counts, self.samples, self.written_at = Counter(), 0, time.monotonic()
        if minute is None or not self.mine or (samples == 0 and not finished):
            return

        def work(s: DbSession) -> None:
            if samples:
                write(s, minute, counts, samples)
            if finished:
                record_outcome(s, JOB, minute, 60.0, None)

        run_in_transaction(session, work)
