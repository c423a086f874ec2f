"""The console's memory: per-minute aggregates in ordinary PostgreSQL tables.

Every worker adds up, in memory, what happens during the current bucket (a minute
by default, ``DB_HISTORY_INTERVAL_SECONDS``): requests per endpoint (count, status
classes, a latency histogram, database time, queries), executions per statement
shape (calls and a latency histogram, app/db/latency_buckets.py), and its pool
(checked out, waits, hold times, connects and invalidations). When the bucket
closes, the worker's reporter thread writes it: one pool row per worker, and
additions into the per-instance rows of endpoints and statements (histograms add up
across workers and minutes; percentiles are read from the sums).

Server-wide work needs one writer per period across every worker and instance, so
it runs as periodic jobs (app/db/jobs.py): pg_stat_statements' change and the
server's connections every bucket, folding each closed hour into the hourly tables
(long chart windows read those), and pruning rows older than ``DB_HISTORY_DAYS``
in small batches.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from flask import Flask

from app.db import latency_buckets
from app.db.jobs import Job, JobRunner, registered
from app.db.sql import query
from app.db.transactions import DbSession, run_in_transaction
from app.paths import PROJECT_ROOT

log = logging.getLogger(__name__)
SLOTS = latency_buckets.SLOTS
ALL_ENDPOINTS = "*"  # the row that adds up every endpoint of an instance
MAX_STATEMENT_SOURCES = 5_000
PRUNE_BATCH = 5_000
SERVER_TOP_STATEMENTS = 50
FOLD_DELAY_SECONDS = 120  # workers write a closed minute within seconds; wait longer


@lru_cache(maxsize=4096)
def fingerprint_of(statement: str) -> tuple[str, str]:
    """(fingerprint, normalised text) of a statement, computed once per text; the
    same fingerprint as a captured slow statement's."""
    from app.db.statements import normalize

    normalised = normalize(statement)
    return hashlib.sha1(normalised.encode()).hexdigest()[:16], normalised


@dataclass
class EndpointTotals:
    requests: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    counts: list[int] = field(default_factory=lambda: [0] * SLOTS)
    latency_max: float = 0.0
    db_seconds: float = 0.0
    queries: int = 0

    def add(self, other: EndpointTotals) -> None:
        """Add another endpoint's numbers into these."""
        self.requests += other.requests
        self.errors_4xx += other.errors_4xx
        self.errors_5xx += other.errors_5xx
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.latency_max = max(self.latency_max, other.latency_max)
        self.db_seconds += other.db_seconds
        self.queries += other.queries


@dataclass
class StatementTotals:
    calls: int = 0
    counts: list[int] = field(default_factory=lambda: [0] * SLOTS)
    total_seconds: float = 0.0
    max_seconds: float = 0.0


@dataclass
class Bucket:
    """What this process saw during one bucket."""

    start: float
    endpoints: dict[str, EndpointTotals] = field(default_factory=dict)
    statements: dict[str, StatementTotals] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    sources: set[tuple[str, str, str]] = field(default_factory=set)
    hold_counts: list[int] = field(default_factory=lambda: [0] * SLOTS)
    wait_counts: list[int] = field(default_factory=lambda: [0] * SLOTS)
    checked_out_max: int = 0
    checked_out_sum: float = 0.0
    samples: int = 0


class History:
    """This process's current bucket (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.interval = 60
        self.enabled = False
        self.bucket = Bucket(self._start(time.time()))
        self.seen_sources: set[tuple[str, str]] = set()
        # The pool's cumulative counters when the last bucket closed.
        self.pool_totals: dict[str, float] = {}

    def configure(self, app: Flask) -> None:
        """Take the settings of ``app`` (off with DB_HISTORY=off or without
        instrumentation)."""
        self.enabled = app.config["DB_HISTORY"] and app.config["DB_INSTRUMENTATION"]
        self.interval = app.config["DB_HISTORY_INTERVAL_SECONDS"]
        with self.lock:
            self.bucket = Bucket(self._start(time.time()))

    def _start(self, now: float) -> float:
        return now - now % self.interval

    def record_request(
        self, endpoint: str, status: int, seconds: float, db_seconds: float, queries: int
    ) -> None:
        """Count one answered request."""
        if not self.enabled:
            return
        index = latency_buckets.slot(seconds)
        with self.lock:
            totals = self.bucket.endpoints.get(endpoint)
            if totals is None:
                totals = self.bucket.endpoints[endpoint] = EndpointTotals()
            totals.requests += 1
            if status >= 500:
                totals.errors_5xx += 1
            elif status >= 400:
                totals.errors_4xx += 1
            totals.counts[index] += 1
            if seconds > totals.latency_max:
                totals.latency_max = seconds
            totals.db_seconds += db_seconds
            totals.queries += queries

    def record_statement(
        self, statement: str, seconds: float, endpoint: str, locate: Callable[[], str]
    ) -> None:
        """Count one execution; remember a new shape's text and, the first time a
        shape runs for an endpoint, where in the code (``locate()`` only then)."""
        if not self.enabled:
            return
        fingerprint, normalised = fingerprint_of(statement)
        index = latency_buckets.slot(seconds)
        source = (fingerprint, endpoint)
        location = None
        if source not in self.seen_sources and len(self.seen_sources) < MAX_STATEMENT_SOURCES:
            location = locate()
        with self.lock:
            totals = self.bucket.statements.get(fingerprint)
            if totals is None:
                totals = self.bucket.statements[fingerprint] = StatementTotals()
                self.bucket.texts[fingerprint] = normalised
            totals.calls += 1
            totals.counts[index] += 1
            totals.total_seconds += seconds
            if seconds > totals.max_seconds:
                totals.max_seconds = seconds
            if location is not None and source not in self.seen_sources:
                self.seen_sources.add(source)
                self.bucket.sources.add((fingerprint, endpoint, location))

    def record_hold(self, seconds: float) -> None:
        """Count one checkout, checked in after ``seconds``."""
        if not self.enabled:
            return
        index = latency_buckets.slot(seconds)
        with self.lock:
            self.bucket.hold_counts[index] += 1

    def record_wait(self, seconds: float) -> None:
        """Count one checkout that waited ``seconds`` for a free connection."""
        if not self.enabled:
            return
        index = latency_buckets.slot(seconds)
        with self.lock:
            self.bucket.wait_counts[index] += 1

    def sample_pool(self, checked_out: int, peak: int) -> None:
        """One look at the pool: connections checked out now, and the most held at
        once since the last look."""
        with self.lock:
            self.bucket.checked_out_max = max(self.bucket.checked_out_max, peak, checked_out)
            self.bucket.checked_out_sum += checked_out
            self.bucket.samples += 1

    def take_closed(self, now: float) -> Bucket | None:
        """The bucket that ended, if one did (a fresh one takes its place)."""
        start = self._start(now)
        with self.lock:
            if start <= self.bucket.start:
                return None
            closed, self.bucket = self.bucket, Bucket(start)
            return closed


history = History()


def app_version() -> str:
    """STOCKROOM_VERSION, else the package version plus the git commit when the code
    runs from a checkout."""
    if configured := os.environ.get("STOCKROOM_VERSION", "").strip():
        return configured
    try:
        version = package_version("stockroom")
    except PackageNotFoundError:
        version = "0"
    commit = _git_commit()
    return f"{version}+{commit[:12]}" if commit else version


def _git_commit() -> str | None:
    git = PROJECT_ROOT / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        if (git / ref).exists():
            return (git / ref).read_text().strip()
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(f" {ref}"):
                return line.split()[0]
    except OSError:
        return None
    return None


def _as_time(start: float) -> datetime:
    return datetime.fromtimestamp(start, UTC)


def _pool_change(pool_state: dict) -> dict[str, float]:
    """The pool counters' change since the last closed bucket of this process."""
    keys = ("waits", "wait_seconds", "timeouts", "connects", "invalidations")
    now = {key: pool_state[key] for key in keys}
    before, history.pool_totals = history.pool_totals, now
    return {key: max(now[key] - before.get(key, 0), 0) for key in keys}


def write_bucket(session: DbSession, app: Flask, closed: Bucket, pool_state: dict) -> None:
    """Write a closed bucket: this worker's pool row, and its endpoints' and
    statements' numbers added into the instance's rows."""
    bucket = _as_time(closed.start)
    instance = app.config["INSTANCE_NAME"]
    change = _pool_change(pool_state)
    session.execute(
        query("app.db", "history_pool.sql"),
        {
            "bucket": bucket,
            "instance": instance,
            "pid": os.getpid(),
            "capacity": pool_state["size"] + max(pool_state["max_overflow"], 0),
            "checked_out_max": closed.checked_out_max,
            "checked_out_mean": closed.checked_out_sum / closed.samples if closed.samples else 0,
            **change,
            "wait_counts": latency_buckets.trimmed(closed.wait_counts),
            "hold_counts": latency_buckets.trimmed(closed.hold_counts),
        },
    )
    if closed.endpoints:
        everything = EndpointTotals()
        for totals in closed.endpoints.values():
            everything.add(totals)
        endpoints = {**closed.endpoints, ALL_ENDPOINTS: everything}
        # Sorted: concurrent workers lock the shared rows in the same order.
        session.execute(
            query("app.db", "history_endpoints.sql"),
            [
                {
                    "bucket": bucket,
                    "instance": instance,
                    "endpoint": endpoint,
                    "requests": totals.requests,
                    "errors_4xx": totals.errors_4xx,
                    "errors_5xx": totals.errors_5xx,
                    "latency_counts": latency_buckets.trimmed(totals.counts),
                    "latency_max": totals.latency_max,
                    "db_seconds": totals.db_seconds,
                    "queries": totals.queries,
                }
                for endpoint, totals in sorted(endpoints.items())
            ],
        )
    if closed.statements:
        session.execute(
            query("app.db", "history_statements.sql"),
            [
                {
                    "bucket": bucket,
                    "instance": instance,
                    "fingerprint": fingerprint,
                    "calls": totals.calls,
                    "latency_counts": latency_buckets.trimmed(totals.counts),
                    "total_seconds": totals.total_seconds,
                    "max_seconds": totals.max_seconds,
                }
                for fingerprint, totals in sorted(closed.statements.items())
            ],
        )
        session.execute(
            query("app.db", "history_statement_texts.sql"),
            [{"fingerprint": fp, "sql": sql} for fp, sql in sorted(closed.texts.items())],
        )
    if closed.sources:
        session.execute(
            query("app.db", "history_statement_sources.sql"),
            [
                {"fingerprint": fp, "endpoint": endpoint, "location": location}
                for fp, endpoint, location in sorted(closed.sources)
            ],
        )


def record_deploy(session: DbSession) -> None:
    """Mark this version's first report (a deploy) once across the deployment."""
    session.execute(
        query("app.db", "history_event.sql"),
        {"kind": "deploy", "label": app_version(), "detail": None},
    )


def record_migration(connection, step) -> None:
    """Mark a migration step (Alembic's ``on_version_apply``) on the charts, in the
    migration's own transaction, once the events table exists."""
    if step.is_stamp:
        return
    if not connection.execute(query("app.db", "history_events_table.sql")).scalar():
        return
    script = step.up_revision
    connection.execute(
        query("app.db", "history_migration.sql"),
        {
            "label": step.up_revision_id if step.is_upgrade else f"undo {step.up_revision_id}",
            "detail": (script.doc or "").strip() if script is not None else None,
        },
    )


def sample_server(app: Flask, session: DbSession, bucket: datetime) -> None:
    """Job: the server's connections by state and pg_stat_statements' change since
    the last sample (its top statements), for ``bucket``."""
    session.execute(query("app.db", "history_connections.sql"), {"bucket": bucket})
    available = session.execute(query("app.admin.database", "has_pg_stat_statements.sql"))
    if available.scalar():
        session.execute(
            query("app.db", "history_server_statements.sql"),
            {"bucket": bucket, "top": SERVER_TOP_STATEMENTS},
        )
        session.execute(query("app.db", "history_server_snapshot_clear.sql"))
        session.execute(query("app.db", "history_server_snapshot.sql"))
        match_queryids(session)


def match_queryids(session: DbSession) -> int:
    """Add the server's queryids to the statement shapes whose text they match (a
    shape gets one queryid per combination of parameter types the driver sent: psycopg
    types an int as int2, int4 or int8 by its value). The shapes matched anew."""
    from app.db.statements import comparable

    by_text: dict[str, set[int]] = {}
    for queryid, text in session.execute(query("app.db", "history_server_texts.sql")):
        by_text.setdefault(comparable(text), set()).add(queryid)
    changed = 0
    for fingerprint, sql, known in session.execute(
        query("app.db", "history_statement_texts_all.sql")
    ).all():
        found = by_text.get(comparable(sql), set())
        if not found <= set(known):
            session.execute(
                query("app.db", "history_set_queryids.sql"),
                {"fingerprint": fingerprint, "queryids": sorted(found | set(known))},
            )
            changed += 1
    return changed


def fold_hour(app: Flask, session: DbSession, hour: datetime) -> None:
    """Job: fold a closed hour's minute rows into the hourly tables, and any earlier
    hour of the last two days left unfolded (no worker was up to claim it)."""
    missed = session.scalars(query("app.db", "history_unfolded_hours.sql"), {"hour": hour})
    for each in sorted({*missed, hour}):
        for name in ("endpoints", "statements", "pool"):
            session.execute(query("app.db", f"history_fold_{name}.sql"), {"hour": each})


def prune(app: Flask, session: DbSession, _hour: datetime | None = None) -> int:
    """Job: delete history older than DB_HISTORY_DAYS, at most PRUNE_BATCH rows per
    table per short transaction; the rows deleted."""
    before = datetime.now(UTC) - timedelta(days=app.config["DB_HISTORY_DAYS"])
    batch = app.config.get("DB_HISTORY_PRUNE_BATCH", PRUNE_BATCH)
    deleted = 0
    while True:
        counts = run_in_transaction(
            session,
            lambda s: (
                s.execute(query("app.db", "history_prune.sql"), {"before": before, "batch": batch})
                .one()
                ._asdict()
            ),
        )
        deleted += sum(counts.values())
        if max(counts.values()) < batch:
            return deleted


HISTORY_JOBS = [
    Job(
        "history-server-sample",
        lambda app: app.config["DB_HISTORY_INTERVAL_SECONDS"],
        sample_server,
    ),
    Job("history-fold-hour", lambda app: 3600, fold_hour, delay=FOLD_DELAY_SECONDS),
    Job("history-prune", lambda app: 3600, prune, atomic=False),
]


class Sampler:
    """Called by the worker's reporter on every tick: samples the pool, writes a
    closed bucket, and runs the periodic jobs this worker wins."""

    def __init__(self, app: Flask, jobs: list[Job] | None = None) -> None:
        self.app = app
        if jobs is None:
            # The registered jobs run with the history off too (only instrumentation
            # off stops the reporter, and with it every job).
            jobs = (HISTORY_JOBS if history.enabled else []) + registered(app)
        self.jobs = JobRunner(app, jobs)
        self.deploy_recorded = False

    def tick(self, session: DbSession, pool_state: dict, now: float | None = None) -> None:
        """One reporter tick (``now``: the clock, for tests)."""
        now = time.time() if now is None else now
        if not history.enabled:
            self.jobs.tick(session, now)
            return
        history.sample_pool(pool_state["checked_out"], pool_state["peak"])
        if not self.deploy_recorded:
            run_in_transaction(session, record_deploy)
            self.deploy_recorded = True
        closed = history.take_closed(now)
        if closed is not None:
            run_in_transaction(session, lambda s: write_bucket(s, self.app, closed, pool_state))
        self.jobs.tick(session, now)
