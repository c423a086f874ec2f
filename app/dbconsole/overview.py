"""/admin/db/: is the database healthy, and what to do about it.

One row per check, each ``ok``, ``warning``, ``critical`` or ``unknown`` with the
number behind it, one sentence and a link to the page with the detail. Every
check's statement runs under a short statement timeout in a savepoint of its own:
a check that cannot be evaluated on a sick database says "unknown" and why, and
the others still answer. "Recently" is the last DB_CHECK_RECENT_MINUTES, from the
differences the workers report (app/monitoring/recent.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask, current_app
from flask_admin import expose
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from app.auth.guards import SecureBaseView
from app.db.errors import first_line
from app.db.migration_scripts import include_object, migration_scripts
from app.db.pgbouncer_admin import live_bouncer_pools
from app.db.pool_plan import JOBS_ROLE
from app.db.sql import query
from app.extensions import db
from app.jobs.scheduler import OVERDUE_PERIODS, registered
from app.monitoring.deployment import deployment_check
from app.monitoring.worker_reports import live_reports, refresh_own_report

OK, WARNING, CRITICAL, UNKNOWN = "ok", "warning", "critical", "unknown"
SEVERITY = {OK: 0, UNKNOWN: 1, WARNING: 2, CRITICAL: 3}
# Model drift needs the whole schema reflected: computed once per revision and
# process, for this long.
DRIFT_CACHE_SECONDS = 300


@dataclass(frozen=True)
class Result:
    """What a check found: its status, the number behind it and one sentence."""

    status: str
    value: str
    explanation: str


@dataclass(frozen=True)
class Check:
    """One row of the overview."""

    name: str
    title: str
    status: str
    value: str
    explanation: str
    link: str  # the admin endpoint with the detail


def _sql(conn: Connection, name: str, **params):
    return conn.execute(query("app.dbconsole", f"check_{name}.sql"), params).one()


def _level(value: float, warning: float, critical: float, *, below: bool = False) -> str:
    """ok / warning / critical for ``value`` against thresholds (``below``: lower is worse)."""
    if below:
        return CRITICAL if value < critical else WARNING if value < warning else OK
    return CRITICAL if value >= critical else WARNING if value >= warning else OK


class Overview:
    """Runs the checks for one page view."""

    def __init__(self, app: Flask, conn: Connection) -> None:
        self.app = app
        self.conn = conn
        self.limits = app.config["DB_CHECKS"]
        self.minutes = app.config["DB_CHECK_RECENT_MINUTES"]
        self.reports = live_reports(db.session, app)

    def recent(self, key: str) -> int:
        """The workers' reported change of ``key`` over the recent window, summed."""
        return int(sum(r.counters.get("recent", {}).get(key, 0) for r in self.reports))

    # -- the checks, in the order the page shows them -----------------------------

    def connections(self) -> Result:
        row = _sql(self.conn, "connections")
        allowed = row.max_connections - row.superuser_reserved
        percent = 100 * row.in_use / allowed
        status = _level(
            percent,
            self.limits["CONNECTIONS_WARNING_PERCENT"],
            self.limits["CONNECTIONS_CRITICAL_PERCENT"],
        )
        notes = [f"{row.in_use} of {allowed} connections in use ({percent:.0f} %)"]
        deployment = deployment_check(db.session, self.app)
        if deployment["warnings"]:
            status = max(status, WARNING, key=SEVERITY.__getitem__)
            notes += deployment["warnings"]
        if self.app.config["DB_POOLER"] == "pgbouncer":
            bouncer = live_bouncer_pools(self.app.config)
            if bouncer and "error" not in bouncer and bouncer["clients_waiting"]:
                status = max(status, WARNING, key=SEVERITY.__getitem__)
                notes.append(f"{bouncer['clients_waiting']} client(s) waiting at PgBouncer")
        return Result(status, f"{row.in_use}/{allowed}", "; ".join(notes))

    def pool_waits(self) -> Result:
        waits, timeouts = self.recent("pool_waits"), self.recent("pool_timeouts")
        status = CRITICAL if timeouts else WARNING if waits else OK
        return Result(
            status,
            f"{waits} waits, {timeouts} timeouts",
            f"requests that waited for a pooled connection in the last {self.minutes} min"
            + (" (a timeout answers 503)" if timeouts else ""),
        )

    def long_running(self) -> Result:
        seconds = self.limits["LONG_RUNNING_SECONDS"]
        row = _sql(self.conn, "long_running", seconds=seconds)
        longest = row.longest_seconds or 0
        status = (
            OK
            if not row.sessions
            else _level(longest, seconds, self.limits["LONG_RUNNING_CRITICAL_SECONDS"])
        )
        explanation = (
            f"statements running longer than {seconds} s"
            if not row.sessions
            else f"longest {longest:.0f} s: pid {row.oldest_pid} ({row.oldest_application})"
        )
        return Result(status, str(row.sessions), explanation)

    def idle_in_transaction(self) -> Result:
        seconds = self.limits["IDLE_IN_TRANSACTION_SECONDS"]
        row = _sql(self.conn, "idle_in_transaction", seconds=seconds)
        longest = row.longest_seconds or 0
        status = (
            OK
            if not row.sessions
            else _level(longest, seconds, self.limits["IDLE_IN_TRANSACTION_CRITICAL_SECONDS"])
        )
        explanation = (
            f"sessions idle inside a transaction longer than {seconds} s hold locks and "
            f"keep vacuum from cleaning up"
            if not row.sessions
            else f"longest {longest:.0f} s: pid {row.oldest_pid} ({row.oldest_application}); "
            f"it holds its locks until it ends"
        )
        return Result(status, str(row.sessions), explanation)

    def blocked(self) -> Result:
        seconds = self.limits["BLOCKED_SECONDS"]
        row = _sql(self.conn, "blocked", seconds=seconds)
        longest = row.longest_seconds or 0
        status = (
            OK
            if not row.sessions
            else _level(longest, seconds, self.limits["BLOCKED_CRITICAL_SECONDS"])
        )
        explanation = (
            f"sessions waiting for a lock longer than {seconds} s"
            if not row.sessions
            else f"waiting up to {longest:.0f} s; blocked by pid {row.blocker_pid} "
            f"({row.blocker_application}, {row.blocker_state})"
        )
        return Result(status, str(row.sessions), explanation)

    def leaks(self) -> Result:
        held = [h for r in self.reports for h in r.pool["held_too_long"]]
        seconds = self.app.config["DB_LEAK_SECONDS"]
        explanation = f"pooled connections checked out longer than {seconds} s" + (
            f"; the longest, {held[0]['seconds']} s, taken at {held[0]['location']}" if held else ""
        )
        return Result(WARNING if held else OK, str(len(held)), explanation)

    def invalid_indexes(self) -> Result:
        row = _sql(self.conn, "invalid_indexes")
        return Result(
            WARNING if row.indexes else OK,
            str(row.indexes),
            "indexes an interrupted CREATE INDEX CONCURRENTLY left behind: never used, "
            "still maintained" + (f": {', '.join(row.names)}" if row.indexes else ""),
        )

    def not_valid_constraints(self) -> Result:
        row = _sql(self.conn, "not_valid_constraints")
        return Result(
            WARNING if row.constraints else OK,
            str(row.constraints),
            "constraints added NOT VALID and never validated: old rows are unchecked"
            + (f": {', '.join(row.names)}" if row.constraints else ""),
        )

    def migrations(self) -> Result:
        pending, drift = migration_state(self.conn)
        status = CRITICAL if pending else WARNING if drift else OK
        explanation = (
            f"{len(pending)} pending: run flask db upgrade (/readyz is 503 meanwhile)"
            if pending
            else f"the models differ from the database: {drift[0]}"
            if drift
            else "at head, and the models match the database"
        )
        return Result(status, f"{len(pending)} pending", explanation)

    def xid_age(self) -> Result:
        row = _sql(self.conn, "xid_age")
        warning = row.freeze_max_age * self.limits["XID_AGE_WARNING_PERCENT"] / 100
        status = _level(row.age, warning, self.limits["XID_AGE_CRITICAL"])
        return Result(
            status,
            f"{row.age:,}",
            f"oldest database {row.oldest!r}; autovacuum freezes from "
            f"{row.freeze_max_age:,}; PostgreSQL stops at about 2,100,000,000",
        )

    def sequence_headroom(self) -> Result:
        row = self.conn.execute(query("app.dbconsole", "check_sequences.sql")).first()
        if row is None or row.used_percent is None:
            return Result(OK, "0 %", "no sequences")
        status = _level(
            float(row.used_percent),
            self.limits["SEQUENCE_WARNING_PERCENT"],
            self.limits["SEQUENCE_CRITICAL_PERCENT"],
        )
        fed = f" feeding {row.table_name}.{row.column_name}" if row.column_name else ""
        return Result(
            status,
            f"{row.used_percent} %",
            f"{row.sequence_name}{fed} is at {row.last_value:,} of {row.maximum:,}",
        )

    def vacuum(self) -> Result:
        row = _sql(
            self.conn,
            "vacuum",
            min_dead=self.limits["DEAD_TUPLES_MIN"],
            dead_percent=self.limits["DEAD_TUPLES_PERCENT"],
            stale_days=self.limits["VACUUM_STALE_DAYS"],
        )
        return Result(
            WARNING if row.tables else OK,
            str(row.tables),
            "tables with many dead tuples or no vacuum for long"
            + (f"; worst {row.worst_table} ({row.most_dead:,} dead)" if row.tables else ""),
        )

    def cache_hit(self) -> Result:
        row = _sql(self.conn, "cache_hit")
        total = (row.blks_hit or 0) + (row.blks_read or 0)
        if total < 10_000:
            return Result(OK, "-", f"too little read so far ({total:,} blocks) to judge")
        percent = 100 * row.blks_hit / total
        status = _level(
            percent,
            self.limits["CACHE_HIT_WARNING_PERCENT"],
            self.limits["CACHE_HIT_CRITICAL_PERCENT"],
            below=True,
        )
        return Result(
            status,
            f"{percent:.2f} %",
            f"blocks found in shared buffers ({row.blks_read:,} read from disk)",
        )

    def slow_queries(self) -> Result:
        slow = self.recent("slow_statements")
        threshold = self.app.config["SLOW_QUERY_MS"]
        status = (
            CRITICAL if slow >= self.limits["SLOW_QUERIES_CRITICAL"] else WARNING if slow else OK
        )
        return Result(
            status, str(slow), f"statements over {threshold} ms in the last {self.minutes} min"
        )

    def n_plus_one(self) -> Result:
        incidents = self.recent("n_plus_one")
        return Result(
            WARNING if incidents else OK,
            str(incidents),
            f"requests running one statement {self.app.config['N_PLUS_ONE_THRESHOLD']}+ "
            f"times in the last {self.minutes} min (see the request log)",
        )

    def replication(self) -> Result:
        row = _sql(self.conn, "replication")
        max_lag = self.app.config["REPORTS_MAX_LAG_SECONDS"]
        configured = bool(self.app.config["REPORTS_DATABASE_URL"])
        if not row.replicas:
            status = CRITICAL if configured else OK
            explanation = (
                "REPORTS_DATABASE_URL is set but no replica streams from this server"
                if configured
                else "no replica configured"
            )
            return Result(status, "-", explanation)
        lag = row.replay_lag_seconds or 0.0
        status = CRITICAL if row.streaming < row.replicas else WARNING if lag > max_lag else OK
        return Result(
            status,
            f"{lag:.1f} s",
            f"{row.streaming} of {row.replicas} replica(s) streaming; replay lag "
            f"(reports skip a replica behind by more than {max_lag} s)",
        )

    def jobs(self) -> Result:
        processes = [r for r in self.reports if r.role == JOBS_ROLE]
        # Without instrumentation no process reports itself: the claims alone tell.
        seen = self.app.config["DB_INSTRUMENTATION"]
        if seen and not processes:
            return Result(
                WARNING,
                "0 processes",
                "no jobs process is running: the rollups, the history's hourly folds and "
                "the sales rates stand still (start `flask jobs run`; `flask serve` does)",
            )
        rows = {row.job: row for row in self.conn.execute(query("app.dbconsole", "check_jobs.sql"))}
        now = datetime.now(UTC)
        running_since = min((r.started_at for r in processes), default=None)
        late = []
        for job in registered(self.app):
            allowed = timedelta(seconds=job.period(self.app) * OVERDUE_PERIODS + job.delay)
            row = rows.get(job.name)
            last = row.last_success if row else None
            since = last or running_since
            if since is not None and now - since <= allowed:
                continue
            why = f"last success {_ago(now - last)} ago" if last else "no success yet"
            if row is not None and row.last_failure and (not last or row.last_failure > last):
                why += f", failing: {row.last_error}"
            late.append(f"{job.name} ({why})")
        count = f"{len(processes)} process{'es' if len(processes) != 1 else ''}"
        if late:
            return Result(
                WARNING,
                f"{len(late)} late",
                f"not run to success for {OVERDUE_PERIODS} periods: " + "; ".join(late),
            )
        return Result(OK, count, f"every job ran on time ({count})")

    def rollups(self) -> Result:
        row = _sql(self.conn, "rollups")
        notes = []
        status = OK
        if row.failed_audits:
            status = CRITICAL
            first = (row.differences or [{}])[0]
            notes.append(
                f"{row.failed_audits} audit(s) found reports answering otherwise from the "
                f"rollups than from the orders (first: {first.get('report')} "
                f"{first.get('params')}); run `flask rollup rebuild`"
            )
        age = row.queue_age_seconds
        if age is not None:
            level = _level(
                float(age),
                self.limits["ROLLUP_QUEUE_WARNING_SECONDS"],
                self.limits["ROLLUP_QUEUE_CRITICAL_SECONDS"],
            )
            status = max(status, level, key=SEVERITY.__getitem__)
            notes.append(f"the oldest change has waited {_ago(timedelta(seconds=float(age)))}")
        else:
            notes.append("no change waits for the fold")
        audited = row.audited_at
        notes.append(
            f"last audited {_ago(datetime.now(UTC) - audited)} ago"
            if audited
            else "not audited yet"
        )
        value = "differ" if row.failed_audits else _ago(timedelta(seconds=float(age or 0)))
        return Result(status, value, "; ".join(notes))

    def run(self) -> list[Check]:
        """Every check; one that fails to answer becomes ``unknown`` with the reason."""
        checks: list[Check] = []
        for name, title, link, method in CHECKS:
            savepoint = self.conn.begin_nested()
            try:
                result = method(self)
                savepoint.commit()
            except SQLAlchemyError as error:
                savepoint.rollback()
                result = Result(UNKNOWN, "?", f"not evaluated: {first_line(error)}")
            checks.append(Check(name, title, result.status, result.value, result.explanation, link))
        return checks


CHECKS: list[tuple[str, str, str, Callable[[Overview], Result]]] = [
    ("connections", "Connections", "db_pool.index", Overview.connections),
    ("pool_waits", "Pool waits", "db_pool.index", Overview.pool_waits),
    ("long_running", "Long-running statements", "db_activity.index", Overview.long_running),
    (
        "idle_in_transaction",
        "Idle in transaction",
        "db_activity.index",
        Overview.idle_in_transaction,
    ),
    ("blocked", "Blocked sessions", "db_activity.index", Overview.blocked),
    ("leaks", "Connections held too long", "db_pool.index", Overview.leaks),
    ("invalid_indexes", "Invalid indexes", "db_schema.index", Overview.invalid_indexes),
    (
        "not_valid_constraints",
        "NOT VALID constraints",
        "db_schema.index",
        Overview.not_valid_constraints,
    ),
    ("migrations", "Migrations", "db_migrations.index", Overview.migrations),
    ("xid_age", "Transaction-ID age", "db_schema.index", Overview.xid_age),
    ("sequence_headroom", "Sequence headroom", "db_schema.index", Overview.sequence_headroom),
    ("vacuum", "Vacuum", "db_schema.index", Overview.vacuum),
    ("cache_hit", "Cache hit ratio", "db_queries.index", Overview.cache_hit),
    ("slow_queries", "Slow statements", "db_queries.index", Overview.slow_queries),
    ("n_plus_one", "N+1 queries", "db_queries.index", Overview.n_plus_one),
    ("replication", "Replication", "db_pool.index", Overview.replication),
    ("jobs", "Jobs", "db_pool.index", Overview.jobs),
    ("rollups", "Report rollups", "reports.index", Overview.rollups),
]


def _ago(span: timedelta) -> str:
    """A span in the largest whole unit that fits: 45 s, 12 min, 3 h, 2 d."""
    seconds = max(int(span.total_seconds()), 0)
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


_drift_cache: dict[str, tuple[float, list[str]]] = {}


def migration_state(conn: Connection) -> tuple[list[str], list[str]]:
    """(pending revisions, model drift) of the database ``conn`` reaches."""
    script = migration_scripts()
    context = MigrationContext.configure(
        conn,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_object": include_object,
        },
    )
    current = set(context.get_current_heads())
    known = {rev.revision for rev in script.walk_revisions()}
    if current - known:
        # Migrated by a newer version than this one: nothing pending here, no drift.
        return [], [f"the database is at {', '.join(sorted(current - known))}, newer than this app"]
    applied = {rev.revision for head in current for rev in script.iterate_revisions(head, "base")}
    pending = [rev.revision for rev in script.walk_revisions() if rev.revision not in applied]
    key = ",".join(sorted(current))
    cached = _drift_cache.get(key)
    if cached is None or time.monotonic() - cached[0] > DRIFT_CACHE_SECONDS:
        drift = [] if pending else [repr(diff) for diff in compare_metadata(context, db.metadata)]
        cached = _drift_cache[key] = (time.monotonic(), drift)
    return pending, cached[1]


def overview(app: Flask) -> list[Check]:
    """Every check, evaluated now on one connection."""
    with db.engine.connect() as conn:
        conn.execute(
            text("SELECT set_config('statement_timeout', :ms, true)"),
            {"ms": str(app.config["DB_CHECKS"]["STATEMENT_TIMEOUT_MS"])},
        )
        checks = Overview(app, conn).run()
        conn.rollback()
    return checks


def worst(checks: list[Check]) -> str:
    """The worst status among ``checks``."""
    return max((check.status for check in checks), key=SEVERITY.__getitem__, default=OK)


class OverviewView(SecureBaseView):
    """The overview page."""

    @expose("/")
    def index(self):
        # Flask types current_app as Flask, not as the werkzeug LocalProxy it is.
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        refresh_own_report(app)
        checks = overview(app)
        return self.render(
            "admin/db/overview.html",
            checks=checks,
            worst=worst(checks),
            minutes=app.config["DB_CHECK_RECENT_MINUTES"],
            checked_at=datetime.now(UTC).strftime("%H:%M:%S"),
        )
