"""The database load section of the overview and the queries page: average active
sessions over the window by wait class (app/history/load.py samples them), and
where they went, by statement and by route."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup
from sqlalchemy.exc import ProgrammingError

from app import charts
from app.db.sql import query
from app.db.transactions import DbSession, sqlstate
from app.history import windows
from app.monitoring.statement_tags import CONSOLE_ENDPOINT_PREFIX, MONITORING_ENDPOINT
from app.monitoring.statement_text import comparable, fingerprint

TOP = 8
UNDEFINED_TABLE = "42P01"
PREVIEW = 110
SESSIONS = charts.Unit(
    lambda ticks: [charts.compact(t) for t in ticks],
    lambda v: f"{v:,.2f} sessions",
    "average active sessions",
)


def is_own(route: str) -> bool:
    """Whether load on ``route`` is the console's, the monitoring's or a job's."""
    return route.startswith((CONSOLE_ENDPOINT_PREFIX, MONITORING_ENDPOINT, "job:"))


def _statement_pages(session: DbSession) -> dict[str, str]:
    """Statement page fingerprints by the load's key for the same shape."""
    shapes = session.execute(query("app.workload", "load_statement_shapes.sql"))
    return {fingerprint(comparable(row.sql)): row.fingerprint for row in shapes}


def _row(row, pages: dict[str, str]) -> dict:
    waits = sorted((row.waits or {}).items(), key=lambda kv: -kv[1])
    total = sum(count for _, count in waits) or 1
    text = " ".join((row.statement or "").split())
    return {
        "sessions": row.sessions or 0.0,
        "waits": [(wait, count / total) for wait, count in waits],
        "route": row.route,
        "own": is_own(row.route or ""),
        "statement": text,
        "preview": text if len(text) <= PREVIEW else text[: PREVIEW - 1] + "…",
        "page": pages.get(row.key),
    }


def load_section(session: DbSession, shown: windows.Window, markers) -> dict:
    """The chart and the top statements and routes of ``shown``'s load (with the
    migration that adds its tables still pending: none, and why)."""
    try:
        with session.begin_nested():
            return _load_section(session, shown, markers)
    except ProgrammingError as error:
        if sqlstate(error) != UNDEFINED_TABLE:
            raise
        return {"chart": None, "missing": True, "statements": [], "routes": []}


def _load_section(session: DbSession, shown: windows.Window, markers) -> dict:
    series: dict[str, Sequence[float | None]] = dict(windows.load_series(session, shown))
    chart: Markup | None = None
    if series:
        chart = charts.time_chart(
            shown.times,
            series,
            start=shown.start,
            end=shown.end,
            title="Database load: average active sessions by wait (CPU: running)",
            unit=SESSIONS,
            markers=markers,
            resolution=shown.resolution,
        )
    pages = _statement_pages(session) if series else {}
    return {
        "chart": chart,
        "missing": False,
        "statements": [_row(r, pages) for r in windows.load_top(session, shown, "statement", TOP)],
        "routes": [_row(r, pages) for r in windows.load_top(session, shown, "route", TOP)],
    }
