"""The console's memory: per-minute aggregates in ordinary PostgreSQL tables.

Every worker adds up, in memory, what happens during the current bucket
(app/monitoring/minute_totals.py). When the bucket closes, the worker's reporter
thread writes it here: one pool row per worker, and additions into the
per-instance rows of endpoints and statements (histograms add up across workers and
minutes; percentiles are read from the sums).

Server-wide work needs one writer per period across every process and instance, so
it runs as periodic jobs in the jobs process (app/jobs/scheduler.py):
pg_stat_statements' change and the server's connections every bucket, folding each
closed hour (and any hour written into after its fold) into the hourly tables (long
chart windows read those), and pruning rows older than ``DB_HISTORY_DAYS``
in small batches.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from alembic.runtime.migration import MigrationInfo
from alembic.script import Script
from flask import Flask
from sqlalchemy import Connection

from app.db.sql import query
from app.db.transactions import DbSession, run_in_transaction
from app.jobs.scheduler import Job
from app.monitoring import latency_buckets
from app.monitoring.minute_totals import Bucket, EndpointTotals, minute_totals
from app.monitoring.statement_text import comparable
from app.paths import PROJECT_ROOT

log = logging.getLogger(__name__)
ALL_ENDPOINTS = "*"  # the row that adds up every endpoint of an instance
PRUNE_BATCH = 5_000
SERVER_TOP_STATEMENTS = 50
FOLD_DELAY_SECONDS = 120  # workers write a closed minute within seconds; wait longer


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
    before, minute_totals.pool_totals = minute_totals.pool_totals, now
    return {key: max(now[key] - before.get(key, 0), 0) for key in keys}


def write_bucket(session: DbSession, app: Flask, closed: Bucket, pool_state: dict) -> None:
    """Write a closed bucket: this worker's pool row, and its endpoints' and
    statements' numbers added into the instance's rows."""
    bucket = _as_time(closed.start)
    instance = app.config["INSTANCE_NAME"]
    change = _pool_change(pool_state)
    session.execute(
        query("app.history", "history_pool.sql"),
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
            query("app.history", "history_endpoints.sql"),
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
            query("app.history", "history_statements.sql"),
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
            query("app.history", "history_statement_texts.sql"),
            [{"fingerprint": fp, "sql": sql} for fp, sql in sorted(closed.texts.items())],
        )
    session.execute(query("app.history", "history_hour_written.sql"), {"bucket": bucket})
    if closed.sources:
        session.execute(
            query("app.history", "history_statement_sources.sql"),
            [
                {"fingerprint": fp, "endpoint": endpoint, "location": location}
                for fp, endpoint, location in sorted(closed.sources)
            ],
        )


def record_deploy(session: DbSession) -> None:
    """Mark this version's first report (a deploy) once across the deployment."""
    session.execute(
        query("app.history", "history_event.sql"),
        {"kind": "deploy", "label": app_version(), "detail": None},
    )


def record_migration(connection: Connection, step: MigrationInfo) -> None:
    """Mark a migration step (Alembic's ``on_version_apply``) on the charts, in the
    migration's own transaction, once the events table exists."""
    if step.is_stamp:
        return
    if not connection.execute(query("app.history", "history_events_table.sql")).scalar():
        return
    # A Script: the revision map is the migrations directory's.
    script = step.up_revision
    connection.execute(
        query("app.history", "history_migration.sql"),
        {
            "label": step.up_revision_id if step.is_upgrade else f"undo {step.up_revision_id}",
            "detail": (script.doc or "").strip() if isinstance(script, Script) else None,
        },
    )


def sample_server(app: Flask, session: DbSession, bucket: datetime) -> None:
    """Job: the server's connections by state and pg_stat_statements' change since
    the last sample (its top statements), for ``bucket``."""
    session.execute(query("app.history", "history_connections.sql"), {"bucket": bucket})
    available = session.execute(query("app.history", "has_pg_stat_statements.sql"))
    if available.scalar():
        session.execute(
            query("app.history", "history_server_statements.sql"),
            {"bucket": bucket, "top": SERVER_TOP_STATEMENTS},
        )
        session.execute(query("app.history", "history_server_snapshot_clear.sql"))
        session.execute(query("app.history", "history_server_snapshot.sql"))
        match_queryids(session)


def match_queryids(session: DbSession) -> int:
    """Add the server's queryids to the statement shapes whose text they match (a
    shape gets one queryid per combination of parameter types the driver sent: psycopg
    types an int as int2, int4 or int8 by its value). The shapes matched anew."""
    by_text: dict[str, set[int]] = {}
    for queryid, text in session.execute(query("app.history", "history_server_texts.sql")):
        by_text.setdefault(comparable(text), set()).add(queryid)
    changed = 0
    for fingerprint, sql, known in session.execute(
        query("app.history", "history_statement_texts_all.sql")
    ).all():
        found = by_text.get(comparable(sql), set())
        if not found <= set(known):
            session.execute(
                query("app.history", "history_set_queryids.sql"),
                {"fingerprint": fingerprint, "queryids": sorted(found | set(known))},
            )
            changed += 1
    return changed


def fold_hour(app: Flask, session: DbSession, hour: datetime) -> None:
    """Job: fold the hour that just closed into the hourly tables, and every hour of
    the last two days with minutes its fold has not seen (no process was up to fold
    it, or a worker wrote a minute late, after a database outage say)."""
    rows = session.execute(query("app.history", "history_hours_to_fold.sql"), {"hour": hour})
    unseen: dict[datetime, int] = {row.hour: row.writes for row in rows}
    for each in sorted({*unseen, hour}):
        for name in ("endpoints", "statements", "pool"):
            session.execute(query("app.history", f"history_fold_{name}.sql"), {"hour": each})
        if each in unseen:
            session.execute(
                query("app.history", "history_hour_folded.sql"),
                {"hour": each, "writes": unseen[each]},
            )


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
                s.execute(
                    query("app.history", "history_prune.sql"), {"before": before, "batch": batch}
                )
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
    """Called by a process's reporter on every report: samples the pool, marks this
    version's first report as a deploy, and writes each closed bucket. (The
    history's jobs run in the jobs process: see ``HISTORY_JOBS``.)"""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.deploy_recorded = False

    def tick(self, session: DbSession, pool_state: dict, now: float | None = None) -> None:
        """One report's share of the history (``now``: the clock, for tests)."""
        if not minute_totals.enabled:
            return
        now = time.time() if now is None else now
        minute_totals.sample_pool(pool_state["checked_out"], pool_state["peak"])
        if not self.deploy_recorded:
            run_in_transaction(session, record_deploy)
            self.deploy_recorded = True
        closed = minute_totals.take_closed(now)
        if closed is not None:
            run_in_transaction(session, lambda s: write_bucket(s, self.app, closed, pool_state))
