"""/admin/db/queries/: the app's traffic and statement shapes over a window (from the
console's history), slow statements captured by all workers, pg_stat_statements;
a page per statement shape (/admin/db/queries/<fingerprint>) and EXPLAIN."""

from __future__ import annotations

import re

import psycopg
from flask import Flask, abort, current_app, request
from flask_admin import expose
from psycopg import sql as pgsql
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from app.auth.guards import SecureBaseView
from app.charts import seconds_text
from app.db.engine import direct_engine
from app.db.sql import query
from app.db.transactions import DbSession, run_in_transaction
from app.dbconsole import history_charts
from app.extensions import db
from app.history import windows
from app.inputs import clean_text
from app.monitoring.models import SlowQueryReport
from app.monitoring.statement_text import comparable, strip_comments
from app.monitoring.worker_reports import refresh_own_report

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_WRITES = re.compile(
    r"\b(INSERT|UPDATE|DELETE|MERGE|TRUNCATE|CREATE|ALTER|DROP|GRANT|COPY|"
    r"CALL|DO|VACUUM|LOCK|REFRESH|NOTIFY|SET)\b",
    re.IGNORECASE,
)
EXPLAIN_TIMEOUT_MS = 5000


class ExplainRefused(Exception):
    """The statement may not be explained (not a captured plain SELECT)."""


def captured_statements(session: DbSession, limit: int = 100):
    """The captured slow statements, merged across workers, costliest first."""
    return session.execute(query("app.dbconsole", "captured_queries.sql"), {"limit": limit}).all()


def statement_statistics(session: DbSession, limit: int = 25):
    """pg_stat_statements' top statements, or None when the extension is not there."""
    available = session.execute(query("app.history", "has_pg_stat_statements.sql")).scalar()
    if not available:
        return None
    return session.execute(
        query("app.dbconsole", "statement_statistics.sql"), {"limit": limit}
    ).all()


def is_plain_select(statement: str) -> bool:
    """A SELECT (or WITH ... SELECT) that writes nothing."""
    head = statement.lstrip("( \n\t").upper()
    return head.startswith(("SELECT", "WITH")) and not _WRITES.search(statement)


def generic_placeholders(statement: str) -> str:
    """psycopg's %(name)s placeholders as PostgreSQL's $1, $2 ... (for GENERIC_PLAN)."""
    numbers: dict[str, int] = {}

    def number(match: re.Match) -> str:
        return f"${numbers.setdefault(match.group(1), len(numbers) + 1)}"

    return _PLACEHOLDER.sub(number, statement).replace("%%", "%")


def explain(session: DbSession, fingerprint: str, *, analyze: bool) -> tuple[str, str]:
    """(statement, plan) for a SELECT the app ran, run read-only under a timeout:
    the generic plan of any such statement shape, EXPLAIN ANALYZE with the values
    captured with a slow one."""
    captured = session.execute(
        select(SlowQueryReport.sql, SlowQueryReport.params)
        .where(SlowQueryReport.fingerprint == fingerprint)
        .order_by(SlowQueryReport.last_seen.desc())
        .limit(1)
    ).first()
    if captured is not None:
        statement, params = captured
    else:
        shape = session.execute(
            query("app.dbconsole", "statement_shape.sql"), {"fingerprint": fingerprint}
        ).first()
        if shape is None:
            raise LookupError(fingerprint)
        statement, params = shape.sql, None
    if not is_plain_select(statement):
        raise ExplainRefused("Only SELECT statements can be explained.")
    if analyze and _PLACEHOLDER.search(statement) and not params:
        raise ExplainRefused(
            "No parameters were captured for this statement (only slow statements keep "
            "theirs); EXPLAIN ANALYZE needs them. The generic plan needs none."
        )
    # Its own transaction settings: over a direct connection when there is one.
    raw = direct_engine().raw_connection()
    try:
        conn = raw.driver_connection
        assert conn is not None  # a connection just checked out has its driver's
        conn.execute("SET TRANSACTION READ ONLY")
        conn.execute(pgsql.SQL("SET LOCAL statement_timeout = {}").format(EXPLAIN_TIMEOUT_MS))
        if analyze:
            # The captured statement text itself, with its captured values bound.
            rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params or None)
        else:
            rows = conn.execute("EXPLAIN (GENERIC_PLAN) " + generic_placeholders(statement))
        plan = "\n".join(row[0] for row in rows)
    finally:
        raw.rollback()
        raw.close()
    return statement, plan


def save_plan(session: DbSession, fingerprint: str, plan: str) -> None:
    """Keep the plan just shown, for the statement page."""
    session.execute(
        query("app.dbconsole", "save_plan.sql"), {"fingerprint": fingerprint, "plan": plan}
    )


def preview(sql: str, length: int = 140) -> str:
    """A statement's first characters on one line, without its comments: a .sql
    file's explanation must not hide that the statement is, say, a locking read."""
    text = " ".join(strip_comments(sql).split())
    return text if len(text) <= length else text[: length - 1] + "…"


def server_rows(session: DbSession, sql: str, cached: list[int] | None):
    """pg_stat_statements' rows for a statement shape (its cached queryids, or matched
    by text now), or None without pg_stat_statements."""
    available = session.execute(query("app.history", "has_pg_stat_statements.sql")).scalar()
    if not available:
        return None, []
    queryids = list(cached or [])
    if not queryids:
        wanted = comparable(sql)
        queryids = [
            queryid
            for queryid, text in session.execute(query("app.history", "history_server_texts.sql"))
            if comparable(text) == wanted
        ]
    rows = session.execute(
        query("app.dbconsole", "statement_server_rows.sql"), {"queryids": queryids}
    ).all()
    return rows, queryids


def _fingerprint_or_404(fingerprint: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{16}", fingerprint):
        abort(404)
    return fingerprint


class QueriesView(SecureBaseView):
    """The queries page, a page per statement shape, and EXPLAIN."""

    @expose("/")
    def index(self):
        # Flask types current_app as Flask, not as the werkzeug LocalProxy it is.
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        refresh_own_report(app)
        shown = windows.window(db.session, request.args.get("window"))
        markers = windows.markers(db.session, shown)
        # Free text from the query string: no NUL (PostgreSQL refuses it), capped.
        endpoint = clean_text(request.args.get("endpoint")) or None
        sort = request.args.get("sort", "total")
        sort = sort if sort in windows.STATEMENT_SORTS else "total"
        shapes = windows.statements(db.session, shown, endpoint=endpoint, sort=sort)
        top = sorted(shapes, key=windows.STATEMENT_SORTS["total"], reverse=True)[:5]
        top_charts = history_charts.statements_charts(db.session, shown, markers, top)
        return self.render(
            "admin/db/queries.html",
            window=shown,
            windows=windows.WINDOWS,
            traffic=history_charts.traffic_charts(db.session, shown, markers),
            top_p95=top_charts["p95"],
            top_mean=top_charts["mean"],
            top=top,
            shapes=shapes,
            sort=sort,
            sorts=list(windows.STATEMENT_SORTS),
            endpoint=endpoint,
            endpoints=windows.endpoints(db.session, shown),
            preview=preview,
            duration=seconds_text,
            captured=captured_statements(db.session),
            statistics=statement_statistics(db.session),
            threshold_ms=current_app.config["SLOW_QUERY_MS"],
        )

    @expose("/<fingerprint>")
    def statement_view(self, fingerprint: str):
        _fingerprint_or_404(fingerprint)
        shape = db.session.execute(
            query("app.dbconsole", "statement_shape.sql"), {"fingerprint": fingerprint}
        ).first()
        captured = db.session.execute(
            select(SlowQueryReport.sql).where(SlowQueryReport.fingerprint == fingerprint).limit(1)
        ).scalar()
        sql = shape.sql if shape is not None else captured
        if sql is None:
            abort(404)
        shown = windows.window(db.session, request.args.get("window"))
        markers = windows.markers(db.session, shown)
        server, queryids = server_rows(db.session, sql, shape.queryids if shape else None)
        return self.render(
            "admin/db/statement.html",
            fingerprint=fingerprint,
            sql=sql,
            shape=shape,
            window=shown,
            windows=windows.WINDOWS,
            totals=windows.statement_totals(db.session, shown, fingerprint),
            charts=history_charts.statement_charts(
                db.session, shown, markers, fingerprint, queryids
            ),
            sources=db.session.execute(
                query("app.dbconsole", "statement_sources.sql"), {"fingerprint": fingerprint}
            ).all(),
            server=server,
            queryids=queryids,
            explainable=is_plain_select(sql),
            duration=seconds_text,
            analyzable=captured is not None,
        )

    @expose("/explain/<fingerprint>")
    def explain_view(self, fingerprint: str):
        _fingerprint_or_404(fingerprint)
        analyze = request.args.get("analyze") == "1"
        try:
            statement, plan = explain(db.session, fingerprint, analyze=analyze)
            error = None
        except LookupError:
            abort(404)
        except ExplainRefused as refused:
            statement, plan, error = None, None, str(refused)
        except (DBAPIError, psycopg.Error) as failed:
            statement, plan, error = None, None, str(getattr(failed, "orig", failed)).strip()
        if plan:
            run_in_transaction(db.session, lambda session: save_plan(session, fingerprint, plan))
        return self.render(
            "admin/db/explain.html",
            fingerprint=fingerprint,
            analyze=analyze,
            statement=statement,
            plan=plan,
            error=error,
        )
