"""/admin/db/: is the database healthy, and what to do about it.

One row per check, each ``ok``, ``warning``, ``critical`` or ``unknown`` with the
number behind it, one sentence and a link to the page with the detail; a failing
check links to the row that causes it (the session's pid on the activity page, the
index, constraint, sequence or table on the schema page, the statement's page).
Failing checks come first: critical, then warning, then unknown, then ok.

Every check runs in a savepoint of its own under a short statement timeout: a check
that cannot be evaluated on a sick database (a timeout, an error, even a lost
connection) says "unknown" and why, and the others still answer. The savepoint's
own SAVEPOINT, RELEASE or ROLLBACK TO can be the statement the timeout cancels on a
loaded server: then the transaction is rolled back (or the connection replaced) and
the next check starts afresh. "Recently" is the last DB_CHECK_RECENT_MINUTES, from
the differences the workers report (app/monitoring/recent.py).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask, current_app, request, url_for
from flask_admin import expose
from psycopg import errors as pg_errors
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from app.auth.guards import SecureBaseView
from app.db.errors import first_line
from app.db.migration_scripts import include_object, migration_scripts
from app.db.pgbouncer_admin import live_bouncer_pools
from app.db.pool_plan import JOBS_ROLE
from app.db.sql import query
from app.dbconsole.durations import duration_text
from app.dbconsole.servers import COMMIT_WAITS, expected_standbys, synchronous_standbys
from app.extensions import db
from app.history import windows
from app.jobs.scheduler import OVERDUE_PERIODS, registered
from app.monitoring.deployment import deployment_check
from app.monitoring.worker_reports import WorkerReport, live_reports, refresh_own_report
from app.workload.load_chart import load_section

log = logging.getLogger(__name__)

OK, WARNING, CRITICAL, UNKNOWN = "ok", "warning", "critical", "unknown"
SEVERITY = {OK: 0, UNKNOWN: 1, WARNING: 2, CRITICAL: 3}
# The page's order: problems first; a check that could not answer may hide one, so it
# comes before the ones that are fine.
PAGE_ORDER = {CRITICAL: 0, WARNING: 1, UNKNOWN: 2, OK: 3}
# Model drift needs the whole schema reflected: computed once per revision and
# process, for this long.
DRIFT_CACHE_SECONDS = 300


@dataclass(frozen=True)
class Result:
    """What a check found: its status, the number behind it and one sentence."""

    status: str
    value: str
    explanation: str
    href: str | None = None  # where the cause is shown, when the check knows it
    cause: str | None = None  # the link's text: "pid 4242", an index's name...


@dataclass(frozen=True)
class Check:
    """One row of the overview."""

    name: str
    title: str
    status: str
    value: str
    explanation: str
    link: str  # the admin endpoint with the detail
    href: str  # the URL the row links to: the cause's row, else the detail page
    cause: str  # the link's text


def _at(endpoint: str, anchor: str | None = None, **values) -> str:
    """The URL of ``endpoint`` (with ``values``), at ``#anchor`` if given."""
    return url_for(endpoint, _anchor=anchor, **values)


def _not_evaluated(error: BaseException, timeout_ms: int, lock_timeout_ms: int) -> str:
    """Why a check has no answer, in one line: a timeout says how long it waited."""
    original = getattr(error, "orig", None)
    if isinstance(original, pg_errors.LockNotAvailable):
        waited = duration_text(lock_timeout_ms / 1000)
        return f"not evaluated: waited for a lock longer than {waited}"
    if isinstance(original, pg_errors.QueryCanceled) and "statement timeout" in str(original):
        return f"not evaluated: timed out after {duration_text(timeout_ms / 1000)}"
    return f"not evaluated: {first_line(error)}"


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
        self._reports: Sequence[WorkerReport] = ()
        self._reports_error: SQLAlchemyError | None = None
        try:
            self._reports = live_reports(db.session, app)
        except SQLAlchemyError as error:
            # The checks that read the reports say "unknown"; the others still answer.
            db.session.rollback()
            self._reports_error = error

    @property
    def reports(self) -> Sequence[WorkerReport]:
        """The live workers' reports (raises what reading them raised)."""
        if self._reports_error is not None:
            raise self._reports_error
        return self._reports

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
        if status == OK:
            return Result(status, f"{row.in_use}/{allowed}", "; ".join(notes))
        return Result(
            status,
            f"{row.in_use}/{allowed}",
            "; ".join(notes),
            _at("db_pool.index", "server-connections"),
            "connections by application",
        )

    def pool_waits(self) -> Result:
        waits, timeouts = self.recent("pool_waits"), self.recent("pool_timeouts")
        status = CRITICAL if timeouts else WARNING if waits else OK
        return Result(
            status,
            f"{waits} waits, {timeouts} timeouts",
            f"requests that waited for a pooled connection in the last {self.minutes} min"
            + (" (a timeout answers 503)" if timeouts else ""),
            _at("db_pool.index", "workers") if status != OK else None,
            "the workers' pools" if status != OK else None,
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
        if not row.sessions:
            return Result(status, "0", f"statements running longer than {duration_text(seconds)}")
        return Result(
            status,
            str(row.sessions),
            f"longest {duration_text(longest)}: pid {row.oldest_pid} ({row.oldest_application})",
            _at("db_activity.index", f"pid-{row.oldest_pid}"),
            f"pid {row.oldest_pid}",
        )

    def idle_in_transaction(self) -> Result:
        seconds = self.limits["IDLE_IN_TRANSACTION_SECONDS"]
        row = _sql(self.conn, "idle_in_transaction", seconds=seconds)
        longest = row.longest_seconds or 0
        status = (
            OK
            if not row.sessions
            else _level(longest, seconds, self.limits["IDLE_IN_TRANSACTION_CRITICAL_SECONDS"])
        )
        if not row.sessions:
            return Result(
                status,
                "0",
                f"sessions idle inside a transaction longer than {duration_text(seconds)} "
                f"hold locks and keep vacuum from cleaning up",
            )
        return Result(
            status,
            str(row.sessions),
            f"longest {duration_text(longest)}: pid {row.oldest_pid} "
            f"({row.oldest_application}); it holds its locks until it ends",
            _at("db_activity.index", f"pid-{row.oldest_pid}"),
            f"pid {row.oldest_pid}",
        )

    def blocked(self) -> Result:
        seconds = self.limits["BLOCKED_SECONDS"]
        row = _sql(self.conn, "blocked", seconds=seconds)
        longest = row.longest_seconds or 0
        status = (
            OK
            if not row.sessions
            else _level(longest, seconds, self.limits["BLOCKED_CRITICAL_SECONDS"])
        )
        if not row.sessions:
            return Result(
                status, "0", f"sessions waiting for a lock longer than {duration_text(seconds)}"
            )
        # The blocker is the cause: its row is where "Terminate session" is.
        return Result(
            status,
            str(row.sessions),
            f"waiting up to {duration_text(longest)}; blocked by pid {row.blocker_pid} "
            f"({row.blocker_application}, {row.blocker_state})",
            _at("db_activity.index", f"pid-{row.blocker_pid}"),
            f"blocker pid {row.blocker_pid}",
        )

    def leaks(self) -> Result:
        held = [h for r in self.reports for h in r.pool["held_too_long"]]
        seconds = self.app.config["DB_LEAK_SECONDS"]
        explanation = f"pooled connections checked out longer than {duration_text(seconds)}" + (
            f"; the longest, {duration_text(held[0]['seconds'])}, taken at {held[0]['location']}"
            if held
            else ""
        )
        if not held:
            return Result(OK, "0", explanation)
        return Result(
            WARNING, str(len(held)), explanation, _at("db_pool.index", "held"), "held connections"
        )

    def invalid_indexes(self) -> Result:
        row = _sql(self.conn, "invalid_indexes")
        return Result(
            WARNING if row.indexes else OK,
            str(row.indexes),
            "indexes an interrupted CREATE INDEX CONCURRENTLY left behind: never used, "
            "still maintained" + (f": {', '.join(row.names)}" if row.indexes else ""),
            _at("db_schema.index", f"index-{row.first_index}") if row.indexes else None,
            row.first_index,
        )

    def not_valid_constraints(self) -> Result:
        row = _sql(self.conn, "not_valid_constraints")
        first = row.first_constraint
        return Result(
            WARNING if row.constraints else OK,
            str(row.constraints),
            "constraints added NOT VALID and never validated: old rows are unchecked"
            + (f": {', '.join(row.names)}" if row.constraints else ""),
            _at("db_schema.index", f"constraint-{first}") if first else None,
            first,
        )

    def migrations(self) -> Result:
        pending, drift = migration_state(self.conn)
        status = CRITICAL if pending else WARNING if drift else OK
        where = "pending" if pending else "drift" if drift else None
        explanation = (
            f"{len(pending)} pending: run flask db upgrade (/readyz is 503 meanwhile)"
            if pending
            else f"the models differ from the database: {drift[0]}"
            if drift
            else "at head, and the models match the database"
        )
        return Result(
            status,
            f"{len(pending)} pending",
            explanation,
            _at("db_migrations.index", where) if where else None,
            where,
        )

    def xid_age(self) -> Result:
        row = _sql(self.conn, "xid_age")
        warning = row.freeze_max_age * self.limits["XID_AGE_WARNING_PERCENT"] / 100
        status = _level(row.age, warning, self.limits["XID_AGE_CRITICAL"])
        return Result(
            status,
            f"{row.age:,}",
            f"oldest database {row.oldest!r}; autovacuum freezes from "
            f"{row.freeze_max_age:,}; PostgreSQL stops at about 2,100,000,000",
            _at("db_schema.index", "xid-age") if status != OK else None,
            "transaction-ID age" if status != OK else None,
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
        # last_value is NULL for a sequence never used.
        return Result(
            status,
            f"{row.used_percent} %",
            f"{row.sequence_name}{fed} is at {row.last_value or 0:,} of {row.maximum:,}",
            _at("db_schema.index", f"sequence-{row.sequence_name}") if status != OK else None,
            row.sequence_name if status != OK else None,
        )

    def vacuum(self) -> Result:
        row = _sql(
            self.conn,
            "vacuum",
            min_dead=self.limits["DEAD_TUPLES_MIN"],
            dead_percent=self.limits["DEAD_TUPLES_PERCENT"],
            stale_days=self.limits["VACUUM_STALE_DAYS"],
        )
        worst_table = f"{row.worst_schema}.{row.worst_table}" if row.tables else None
        return Result(
            WARNING if row.tables else OK,
            str(row.tables),
            f"tables with many dead tuples, or with dead tuples and no vacuum for "
            f"{self.limits['VACUUM_STALE_DAYS']} d"
            + (f"; worst {worst_table} ({row.most_dead:,} dead)" if row.tables else ""),
            _at("db_schema.index", f"table-{worst_table}") if worst_table else None,
            worst_table,
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
            _at("db_queries.index", "statistics-section") if status != OK else None,
            "the server's statements" if status != OK else None,
        )

    def slow_queries(self) -> Result:
        slow = self.recent("slow_statements")
        threshold = self.app.config["SLOW_QUERY_MS"]
        status = (
            CRITICAL if slow >= self.limits["SLOW_QUERIES_CRITICAL"] else WARNING if slow else OK
        )
        # Read whatever the count: the page issues the same statements every time.
        slowest = self.conn.execute(
            query("app.dbconsole", "check_slow_queries.sql"), {"minutes": self.minutes}
        ).first()
        explanation = (
            f"statements over {duration_text(threshold / 1000)} in the last {self.minutes} min"
        )
        if status == OK:
            return Result(status, str(slow), explanation)
        if slowest is None:
            return Result(
                status,
                str(slow),
                explanation,
                _at("db_queries.index", "captured-section"),
                "captured statements",
            )
        return Result(
            status,
            str(slow),
            f"{explanation}; the slowest took {duration_text(slowest.max_ms / 1000)}",
            _at("db_queries.statement_view", fingerprint=slowest.fingerprint),
            "the slowest statement",
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
        if (sync := self.synchronous_replication(row)) is not None:
            return sync
        max_lag = self.app.config["REPORTS_MAX_LAG_SECONDS"]
        configured = bool(self.app.config["REPORTS_DATABASE_URL"])
        expected = expected_standbys(self.app.config)
        if not row.replicas:
            status = CRITICAL if configured else WARNING if expected else OK
            explanation = (
                "REPORTS_DATABASE_URL is set but no replica streams from this server"
                if configured
                else f"an expected standby is gone: DATABASE_URL names {expected} standby "
                "host(s) but none streams from this primary"
                if expected
                else "no replica configured"
            )
            return Result(status, "-", explanation)
        lag = row.replay_lag_seconds or 0.0
        status = CRITICAL if row.streaming < row.replicas else WARNING if lag > max_lag else OK
        explanation = (
            f"{row.streaming} of {row.replicas} replica(s) streaming; replay lag "
            f"(reports skip a replica behind by more than {duration_text(max_lag)})"
        )
        if row.streaming < expected:
            status = max(status, WARNING, key=SEVERITY.__getitem__)
            explanation = (
                f"an expected standby is gone: {row.streaming} streaming, DATABASE_URL names "
                f"{expected} standby host(s); {explanation}"
            )
        return Result(
            status,
            duration_text(lag),
            explanation,
            _at("db_pool.index", "servers") if status != OK else None,
            "the replicas" if status != OK else None,
        )

    def synchronous_replication(self, row) -> Result | None:
        """A problem with the synchronous standby, if there is one: commits wait for a
        standby that is gone (critical), or run without one (warning)."""
        wanted = synchronous_standbys(row.synchronous_standby_names)
        missing = ", ".join(wanted.missing(row.streaming_names)) or "none"
        where = _at("db_pool.index", "servers")
        if wanted.required and row.synchronous < wanted.required:
            value = f"{row.synchronous} of {wanted.required} sync"
            if row.synchronous_commit in COMMIT_WAITS:
                return Result(
                    CRITICAL,
                    value,
                    f"the synchronous standby is gone: commits wait for it "
                    f"(synchronous_standby_names = '{row.synchronous_standby_names}', not "
                    f"streaming: {missing})",
                    where,
                    "the standbys",
                )
            return Result(
                WARNING,
                value,
                f"running without a synchronous standby (not streaming: {missing}; "
                f"synchronous_commit = {row.synchronous_commit}: commits do not wait)",
                where,
                "the standbys",
            )
        if not wanted.required and row.sync_fallback and not row.synchronous:
            return Result(
                WARNING,
                "0 sync",
                f"running without a synchronous standby: synchronous_standby_names is empty "
                f"(stockroom.sync_fallback = {row.sync_fallback}: dropped to asynchronous)",
                where,
                "the standbys",
            )
        return None

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
                _at("db_pool.index", "workers"),
                "the processes",
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
            why = f"last success {duration_text(now - last)} ago" if last else "no success yet"
            if row is not None and row.last_failure and (not last or row.last_failure > last):
                why += f", failing: {row.last_error}"
            late.append(f"{job.name} ({why})")
        count = f"{len(processes)} process{'es' if len(processes) != 1 else ''}"
        if late:
            # The jobs process's row: no page lists the jobs one by one.
            return Result(
                WARNING,
                f"{len(late)} late",
                f"not run to success for {OVERDUE_PERIODS} periods: " + "; ".join(late),
                _at("db_pool.index", "workers"),
                "the jobs process",
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
            notes.append(f"the oldest change has waited {duration_text(float(age))}")
        else:
            notes.append("no change waits for the fold")
        audited = row.audited_at
        notes.append(
            f"last audited {duration_text(datetime.now(UTC) - audited)} ago"
            if audited
            else "not audited yet"
        )
        value = "differ" if row.failed_audits else duration_text(age) if age is not None else "-"
        if status == OK:
            return Result(status, value, "; ".join(notes))
        return Result(status, value, "; ".join(notes), _at("reports.index"), "the reports")

    def evaluate(self, method: Callable[[Overview], Result]) -> Result:
        """One check in a savepoint of its own; whatever goes wrong (a timeout, an
        error, a lost connection, even at the savepoint's own boundary) makes it
        ``unknown`` with the reason, never the page's error."""
        timeout_ms = self.limits["STATEMENT_TIMEOUT_MS"]
        try:
            if not self.conn.in_transaction():
                self._begin()
            savepoint = self.conn.begin_nested()
        except Exception as error:
            # SAVEPOINT runs under the timeout too: on a loaded server it can be the
            # statement cancelled. Start afresh for the next check.
            self._start_afresh()
            return self._unknown(method, error, timeout_ms)
        try:
            result = method(self)
        except Exception as error:
            # Any failure, not only the database's: one broken check must not take the
            # page (the operator's view of a bad day) down with it. Logged in full.
            self._undo(savepoint)
            return self._unknown(method, error, timeout_ms)
        try:
            savepoint.commit()
        except Exception:
            # The check answered; only its RELEASE failed (cancelled by the timeout,
            # the connection lost): keep the answer, start afresh for the next one.
            log.warning("overview: RELEASE after %s failed", method.__name__, exc_info=True)
            self._start_afresh()
        return result

    def _begin(self) -> None:
        # The checks' short timeout, local to the transaction: it ends with it.
        self.conn.execute(
            text("SELECT set_config('statement_timeout', :ms, true)"),
            {"ms": str(self.limits["STATEMENT_TIMEOUT_MS"])},
        )

    def _unknown(self, method: Callable[[Overview], Result], error: Exception, ms: int) -> Result:
        log.warning("overview check %s not evaluated", method.__name__, exc_info=True)
        lock_ms = self.app.config["DB_LOCK_TIMEOUT_MS"]
        return Result(UNKNOWN, "?", _not_evaluated(error, ms, lock_ms))

    def _undo(self, savepoint) -> None:
        # Back to the savepoint; if even that fails (cancelled, the connection
        # gone), start afresh.
        try:
            savepoint.rollback()
        except Exception:
            log.warning("overview: ROLLBACK TO SAVEPOINT failed", exc_info=True)
            self._start_afresh()
            return
        if not self.conn.in_transaction() or self.conn.invalidated:
            self._start_afresh()

    def _start_afresh(self) -> None:
        """Roll the whole transaction back (a check only reads); if that fails too,
        drop the connection: the next check's first statement takes a new one."""
        try:
            self.conn.rollback()
        except SQLAlchemyError:
            log.warning("overview: rollback failed, reconnecting", exc_info=True)
            with contextlib.suppress(SQLAlchemyError):
                self.conn.invalidate()
                self.conn.rollback()

    def run(self) -> list[Check]:
        """Every check, problems first; one that fails to answer is ``unknown`` with
        the reason."""
        checks: list[Check] = []
        for name, title, link, method in CHECKS:
            result = self.evaluate(method)
            checks.append(
                Check(
                    name,
                    title,
                    result.status,
                    result.value,
                    result.explanation,
                    link,
                    result.href or _at(link),
                    result.cause or "details",
                )
            )
        return by_urgency(checks)


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


def by_urgency(checks: list[Check]) -> list[Check]:
    """``checks`` critical first, then warning, unknown and ok; the order of
    :data:`CHECKS` within each (the sort is stable)."""
    return sorted(checks, key=lambda check: PAGE_ORDER[check.status])


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
    """Every check, evaluated now on one connection (in one read-only transaction
    unless a check's failure needs a fresh one), problems first."""
    with db.engine.connect() as conn:
        checks = Overview(app, conn).run()
        with contextlib.suppress(SQLAlchemyError):
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
        shown = windows.window(db.session, request.args.get("window"))
        return self.render(
            "admin/db/overview.html",
            window=shown,
            windows=windows.WINDOWS,
            load=load_section(db.session, shown, windows.markers(db.session, shown)),
            checks=checks,
            counts=Counter(check.status for check in checks),
            worst=worst(checks),
            minutes=app.config["DB_CHECK_RECENT_MINUTES"],
            checked_at=datetime.now(UTC).strftime("%H:%M:%S"),
        )
