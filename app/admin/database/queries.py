"""/admin/db/queries/: slow statements captured by all workers, pg_stat_statements,
and EXPLAIN for a captured SELECT."""

from __future__ import annotations

import re

import psycopg
from flask import abort, current_app, request
from flask_admin import expose
from psycopg import sql as pgsql
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from app.admin.security import SecureBaseView
from app.db.engine import direct_engine
from app.db.models import SlowQueryReport
from app.db.reporter import refresh_own_report
from app.db.sql import query
from app.db.transactions import DbSession
from app.extensions import db

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
    return session.execute(
        query("app.admin.database", "captured_queries.sql"), {"limit": limit}
    ).all()


def statement_statistics(session: DbSession, limit: int = 25):
    """pg_stat_statements' top statements, or None when the extension is not there."""
    available = session.execute(query("app.admin.database", "has_pg_stat_statements.sql")).scalar()
    if not available:
        return None
    return session.execute(
        query("app.admin.database", "statement_statistics.sql"), {"limit": limit}
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
    """(statement, plan) for a captured SELECT, run read-only under a timeout."""
    captured = session.execute(
        select(SlowQueryReport.sql, SlowQueryReport.params)
        .where(SlowQueryReport.fingerprint == fingerprint)
        .order_by(SlowQueryReport.last_seen.desc())
        .limit(1)
    ).first()
    if captured is None:
        raise LookupError(fingerprint)
    statement, params = captured
    if not is_plain_select(statement):
        raise ExplainRefused("Only captured SELECT statements can be explained.")
    if analyze and _PLACEHOLDER.search(statement) and not params:
        raise ExplainRefused(
            "No parameters were captured for this statement; EXPLAIN ANALYZE needs them."
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


class QueriesView(SecureBaseView):
    """The queries page and its EXPLAIN view."""

    @expose("/")
    def index(self):
        refresh_own_report(current_app._get_current_object())
        return self.render(
            "admin/db/queries.html",
            captured=captured_statements(db.session),
            statistics=statement_statistics(db.session),
            threshold_ms=current_app.config["SLOW_QUERY_MS"],
        )

    @expose("/explain/<fingerprint>")
    def explain_view(self, fingerprint: str):
        if not re.fullmatch(r"[0-9a-f]{16}", fingerprint):
            abort(404)
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
        return self.render(
            "admin/db/explain.html",
            fingerprint=fingerprint,
            analyze=analyze,
            statement=statement,
            plan=plan,
            error=error,
        )
