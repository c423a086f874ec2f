"""/admin/db/queries/: the app's traffic and statement shapes over a window (from the
console's history), slow statements captured by all workers, pg_stat_statements;
a page per statement shape (/admin/db/queries/<fingerprint>) and EXPLAIN.

The console's, monitoring's and the jobs' own statements are labelled and left out
of the tables unless asked for (``?show=all``); each table shows a page of rows."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

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
from app.errors import problem
from app.extensions import db
from app.history import windows
from app.inputs import IntegerOutOfRange, NotAnInteger, clean_text, parse_integer
from app.monitoring.models import SlowQueryReport
from app.monitoring.statement_text import EMPTY_STATEMENT, comparable, normalize, strip_comments
from app.monitoring.worker_reports import refresh_own_report
from app.workload import history_charts
from app.workload.load_chart import load_section
from app.workload.statement_origin import Origin, classify, endpoint_kind, sqlcommenter

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
# psycopg's placeholders as the recorded text has them: named, an IN-list collapsed
# by normalize() (``(%(id_1)s...)``), positional; and an escaped percent sign.
_PSYCOPG_TOKEN = re.compile(r"%%|%\((\w+)\)s(\.\.\.)?|%s")
_EXPLAINABLE = ("SELECT", "WITH", "INSERT", "UPDATE", "DELETE", "VALUES", "TABLE")
# Functions a SELECT may call that act outside the transaction (or on other
# sessions): EXPLAIN ANALYZE would run them again.
_SIDE_EFFECTS = re.compile(
    r"\b(pg_(cancel|terminate)_backend|pg_advisory\w*|pg_notify|set_config|"
    r"pg_reload_conf|pg_rotate_logfile|pg_stat\w*_reset\w*|pg_switch_wal|nextval|setval|"
    r"dblink\w*|lo_\w+|pg_file_write|pg_create\w*|pg_drop\w*|pg_promote|pg_log_backend\w*)\s*\(",
    re.IGNORECASE,
)
_WRITES = re.compile(
    r"\b(INSERT|UPDATE|DELETE|MERGE|TRUNCATE|CREATE|ALTER|DROP|GRANT|COPY|"
    r"CALL|DO|VACUUM|LOCK|REFRESH|NOTIFY|SET)\b",
    re.IGNORECASE,
)
EXPLAIN_TIMEOUT_MS = 5000
SHAPES_PER_PAGE = 20
ENDPOINTS_PER_PAGE = 10
CAPTURED_PER_PAGE = 5
STATISTICS_PER_PAGE = 20
MAX_PAGE = 10_000
# How many rows each table may page through.
SHAPES_LIMIT = 500
CAPTURED_LIMIT = 200
STATISTICS_LIMIT = 500
# The query string's page numbers, one per table.
PAGE_PARAMETERS = ("page", "endpoint_page", "captured_page", "server_page")


class ExplainRefused(Exception):
    """The statement may not be explained (or not with ANALYZE)."""


@dataclass(frozen=True)
class Page:
    """One page of a table's rows: ``number`` of ``pages`` (1-based), ``total`` rows
    in all, ``parameter`` the query-string name of its page number."""

    items: Sequence[Any]
    number: int
    pages: int
    total: int
    parameter: str
    size: int

    @property
    def first(self) -> int:
        """The 1-based position of the page's first row."""
        return (self.number - 1) * self.size + 1 if self.total else 0

    @property
    def last(self) -> int:
        """The 1-based position of the page's last row."""
        return self.first + len(self.items) - 1 if self.total else 0


def page_number(name: str) -> int:
    """The page number ``name`` in the query string (1 when absent): a whole number
    from 1 to MAX_PAGE, else a 400 problem+json."""
    text = request.args.get(name)
    if text is None or text == "":
        return 1
    try:
        number = parse_integer(text.strip())
    except (NotAnInteger, IntegerOutOfRange):
        number = 0
    if not 1 <= number <= MAX_PAGE:
        abort(
            problem(
                400,
                "Bad Request",
                f"{name} must be a whole number from 1 to {MAX_PAGE:,}.",
                type_="invalid-parameter",
                parameter=name,
            )
        )
    return number


def paginate(rows: Sequence[Any], number: int, size: int, parameter: str) -> Page:
    """Page ``number`` of ``rows`` (a number past the end shows the last page)."""
    pages = max(math.ceil(len(rows) / size), 1)
    number = min(number, pages)
    start = (number - 1) * size
    return Page(rows[start : start + size], number, pages, len(rows), parameter, size)


def app_tables() -> frozenset[str]:
    """The app's own tables (the models' tables that are not the console's ``db_*``)."""
    return frozenset(name for name in db.metadata.tables if not name.startswith("db_"))


def labelled(
    rows: Iterable[Any], origin: Callable[[Any], Origin], show_all: bool
) -> tuple[list[dict], int]:
    """``rows`` as dicts with their ``origin``; the console's own left out unless
    ``show_all``; and how many were left out."""
    kept, hidden = [], 0
    for row in rows:
        item = dict(row) if isinstance(row, dict) else dict(row._mapping)
        item["origin"] = origin(row)
        if item["origin"].own and not show_all:
            hidden += 1
            continue
        kept.append(item)
    return kept, hidden


def captured_statements(session: DbSession, limit: int = CAPTURED_LIMIT):
    """The captured slow statements, merged across workers, costliest first."""
    return session.execute(query("app.workload", "captured_queries.sql"), {"limit": limit}).all()


def statement_statistics(session: DbSession, limit: int = STATISTICS_LIMIT):
    """pg_stat_statements' top statements, or None when the extension is not there."""
    available = session.execute(query("app.history", "has_pg_stat_statements.sql")).scalar()
    if not available:
        return None
    return session.execute(
        query("app.workload", "statement_statistics.sql"), {"limit": limit}
    ).all()


def is_plain_select(statement: str) -> bool:
    """A SELECT (or WITH ... SELECT) that writes nothing."""
    head = statement.lstrip("( \n\t").upper()
    return head.startswith(("SELECT", "WITH")) and not _WRITES.search(statement)


def statement_kind(statement: str) -> str:
    """The statement's first keyword, upper case ("" for none)."""
    match = re.match(r"[\s(]*([A-Za-z]+)", strip_comments(statement))
    return match.group(1).upper() if match else ""


def generic_placeholders(statement: str) -> str:
    """psycopg's placeholders as PostgreSQL's $1, $2 ... (for GENERIC_PLAN): each
    %(name)s one number, a collapsed IN-list ``(%(id_1)s...)`` one value, each %s
    its own; ``%%`` a percent sign."""
    numbers: dict[str, int] = {}

    def number(match: re.Match) -> str:
        if match.group(0) == "%%":
            return "%"
        key = match.group(1) if match.group(1) else f"%s{len(numbers)}"
        return f"${numbers.setdefault(key, len(numbers) + 1)}"

    return _PSYCOPG_TOKEN.sub(number, statement)


@dataclass(frozen=True)
class PlanOptions:
    """What EXPLAIN can do for a statement: its generic plan, EXPLAIN ANALYZE, and
    why not when not (shown instead of a button that would be refused)."""

    generic: bool
    analyze: bool
    why_not_generic: str = ""
    why_not_analyze: str = ""


def plan_options(statement: str, params: dict | None) -> PlanOptions:
    """The plans the console will show for ``statement`` (with the parameters
    captured with it, if any): the generic plan of a SELECT, WITH, INSERT, UPDATE or
    DELETE (planned, never run); EXPLAIN ANALYZE of a plain SELECT whose every
    parameter was captured (it runs the statement, read-only)."""
    kind = statement_kind(statement)
    if normalize(statement) == EMPTY_STATEMENT or kind not in _EXPLAINABLE:
        why = (
            "EXPLAIN plans SELECT, INSERT, UPDATE and DELETE statements; "
            f"this is {kind or 'an empty statement'}."
        )
        return PlanOptions(False, False, why, why)
    if not is_plain_select(statement):
        return PlanOptions(
            True,
            False,
            why_not_analyze="Only SELECT statements can be explained with ANALYZE: it runs "
            "the statement, and this one writes. The generic plan runs nothing.",
        )
    if _SIDE_EFFECTS.search(statement):
        return PlanOptions(
            True,
            False,
            why_not_analyze="This SELECT calls a function that acts outside its transaction; "
            "EXPLAIN ANALYZE would run it again. The generic plan runs nothing.",
        )
    names = set(_PLACEHOLDER.findall(statement))
    collapsed = "s...)" in statement or re.search(r"(?<!%)%s", statement) is not None
    if collapsed or not names <= set(params or {}):
        return PlanOptions(
            True,
            False,
            why_not_analyze="EXPLAIN ANALYZE needs the values of a captured slow execution "
            "(only slow SELECTs keep theirs); this statement has none. The generic plan "
            "needs none.",
        )
    return PlanOptions(True, True)


def _statement_and_params(session: DbSession, fingerprint: str) -> tuple[str, dict | None] | None:
    """The statement text of a shape and the values last captured with it (a slow
    execution's), or None for a shape never seen."""
    captured = session.execute(
        select(SlowQueryReport.sql, SlowQueryReport.params)
        .where(SlowQueryReport.fingerprint == fingerprint)
        .order_by(SlowQueryReport.last_seen.desc())
        .limit(1)
    ).first()
    if captured is not None:
        return captured.sql, captured.params
    shape = session.execute(
        query("app.workload", "statement_shape.sql"), {"fingerprint": fingerprint}
    ).first()
    return (shape.sql, None) if shape is not None else None


def explain(session: DbSession, fingerprint: str, *, analyze: bool) -> tuple[str, str]:
    """(statement, plan) for a statement shape the app ran, in a read-only
    transaction under a timeout: the generic plan of any shape :func:`plan_options`
    allows, EXPLAIN ANALYZE of a SELECT with the values captured with it."""
    found = _statement_and_params(session, fingerprint)
    if found is None:
        raise LookupError(fingerprint)
    statement, params = found
    options = plan_options(statement, params)
    if not options.generic:
        raise ExplainRefused(options.why_not_generic)
    if analyze and not options.analyze:
        raise ExplainRefused(options.why_not_analyze)
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
        query("app.workload", "save_plan.sql"), {"fingerprint": fingerprint, "plan": plan}
    )


EMPTY_LABEL = "; (empty statement: the pool's check that an idle connection is alive)"


def preview(sql: str, length: int = 140) -> str:
    """A statement's first characters on one line, without its comments: a .sql
    file's explanation must not hide that the statement is, say, a locking read.
    The empty statement says what it is."""
    text = " ".join(strip_comments(sql or "").split())
    if text.strip("; ") == "":
        return EMPTY_LABEL
    return text if len(text) <= length else text[: length - 1] + "…"


def milliseconds(value: float | None, *, seconds: bool = False) -> str:
    """A duration as a number of milliseconds (the unit is in the column's header):
    grouped digits, three significant figures below 100."""
    if value is None:
        return ""
    ms = value * 1000 if seconds else value
    if ms >= 100:
        return f"{ms:,.0f}"
    if ms >= 0.01:
        return f"{ms:.3g}"
    return "0" if ms == 0 else "<0.01"


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
        query("app.workload", "statement_server_rows.sql"), {"queryids": queryids}
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
        numbers = {name: page_number(name) for name in PAGE_PARAMETERS}
        refresh_own_report(app)
        shown = windows.window(db.session, request.args.get("window"))
        markers = windows.markers(db.session, shown)
        # Free text from the query string: no NUL (PostgreSQL refuses it), capped.
        endpoint = clean_text(request.args.get("endpoint")) or None
        sort = request.args.get("sort", "total")
        sort = sort if sort in windows.STATEMENT_SORTS else "total"
        # The console's own statements are shown when asked, or when the endpoint
        # picked is one of the console's.
        show_all = request.args.get("show") == "all" or endpoint_kind(endpoint) != "app"
        ours = app_tables()
        shapes, hidden_shapes = labelled(
            windows.statements(db.session, shown, endpoint=endpoint, sort=sort, limit=SHAPES_LIMIT),
            lambda s: classify(s["sql"], s["endpoints"], ours),
            show_all,
        )
        top = sorted(shapes, key=windows.STATEMENT_SORTS["total"], reverse=True)[:5]
        top_charts = history_charts.statements_charts(db.session, shown, markers, top)
        all_endpoints = windows.endpoints(db.session, shown)
        endpoint_rows, hidden_endpoints = labelled(
            all_endpoints, lambda e: Origin(endpoint_kind(e["endpoint"])), show_all
        )
        captured, hidden_captured = labelled(
            captured_statements(db.session),
            lambda q: classify(q.sql, [q.endpoint], ours),
            show_all,
        )
        statistics = statement_statistics(db.session)
        hidden_statistics = 0
        if statistics is not None:
            statistics, hidden_statistics = labelled(
                statistics, lambda s: classify(s.query, (), ours), show_all
            )
        return self.render(
            "admin/db/queries.html",
            window=shown,
            windows=windows.WINDOWS,
            traffic=history_charts.traffic_charts(db.session, shown, markers),
            load=load_section(db.session, shown, markers),
            top_p95=top_charts["p95"],
            top_mean=top_charts["mean"],
            top=top,
            shapes=paginate(shapes, numbers["page"], SHAPES_PER_PAGE, "page"),
            sort=sort,
            sorts=list(windows.STATEMENT_SORTS),
            endpoint=endpoint,
            endpoints=all_endpoints,
            endpoint_rows=paginate(
                endpoint_rows, numbers["endpoint_page"], ENDPOINTS_PER_PAGE, "endpoint_page"
            ),
            preview=preview,
            ms=milliseconds,
            comment=sqlcommenter,
            captured=paginate(
                captured, numbers["captured_page"], CAPTURED_PER_PAGE, "captured_page"
            ),
            statistics=None
            if statistics is None
            else paginate(statistics, numbers["server_page"], STATISTICS_PER_PAGE, "server_page"),
            show_all=show_all,
            hidden={
                "shapes": hidden_shapes,
                "endpoints": hidden_endpoints,
                "captured": hidden_captured,
                "statistics": hidden_statistics,
            },
            threshold_ms=current_app.config["SLOW_QUERY_MS"],
        )

    @expose("/<fingerprint>")
    def statement_view(self, fingerprint: str):
        _fingerprint_or_404(fingerprint)
        shape = db.session.execute(
            query("app.workload", "statement_shape.sql"), {"fingerprint": fingerprint}
        ).first()
        captured = db.session.execute(
            select(SlowQueryReport.sql, SlowQueryReport.params, SlowQueryReport.endpoint)
            .where(SlowQueryReport.fingerprint == fingerprint)
            .order_by(SlowQueryReport.last_seen.desc())
            .limit(1)
        ).first()
        sql = captured.sql if captured is not None else shape.sql if shape is not None else None
        if sql is None:
            abort(404)
        shown = windows.window(db.session, request.args.get("window"))
        markers = windows.markers(db.session, shown)
        server, queryids = server_rows(db.session, sql, shape.queryids if shape else None)
        sources = db.session.execute(
            query("app.workload", "statement_sources.sql"), {"fingerprint": fingerprint}
        ).all()
        endpoints = [s.endpoint for s in sources] + ([captured.endpoint] if captured else [])
        origin = classify(sql, endpoints, app_tables())
        # The route and code that run it: the app's first, else whoever's.
        source = next(
            (s for s in sources if endpoint_kind(s.endpoint) == "app"),
            sources[0] if sources else None,
        )
        return self.render(
            "admin/db/statement.html",
            fingerprint=fingerprint,
            sql=sql,
            title=preview(sql, 160),
            origin=origin,
            source=source,
            shape=shape,
            window=shown,
            windows=windows.WINDOWS,
            totals=windows.statement_totals(db.session, shown, fingerprint),
            charts=history_charts.statement_charts(
                db.session, shown, markers, fingerprint, queryids
            ),
            sources=sources,
            server=server,
            queryids=queryids,
            plans=plan_options(sql, captured.params if captured else None),
            duration=seconds_text,
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
        found = _statement_and_params(db.session, fingerprint)
        options = plan_options(*found) if found else PlanOptions(False, False)
        return self.render(
            "admin/db/explain.html",
            fingerprint=fingerprint,
            analyze=analyze,
            statement=statement,
            title=preview(found[0], 160) if found else fingerprint,
            plan=plan,
            error=error,
            plans=options,
            timeout_s=EXPLAIN_TIMEOUT_MS / 1000,
        )
