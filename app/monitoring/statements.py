"""Statement timing and slow-statement capture.

Every statement is timed by the driver's cursor (:class:`TimedCursor`) into the
statement-duration histogram and the current request's accounting
(app/monitoring/request_accounting.py).
Statements slower than ``SLOW_QUERY_MS`` are aggregated by normalised SQL (count,
mean, p95 from recent samples, max, last seen, endpoint and code location);
parameters are kept only to re-run EXPLAIN ANALYZE, never shown.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Self, overload

import psycopg
from flask import Flask, has_request_context, request
from psycopg import sql as pgsql
from psycopg.abc import Params, Query, QueryNoTemplate, Template
from psycopg.rows import TupleRow
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry

from app.monitoring import statement_tags
from app.monitoring.counters import histogram
from app.monitoring.minute_totals import minute_totals
from app.monitoring.request_accounting import current_account
from app.monitoring.statement_text import fingerprint, normalize

_APP_DIR = Path(__file__).resolve().parent.parent
PROJECT_DIR = str(_APP_DIR.parent)
# The database plumbing and this instrumentation: never the caller a location names.
SKIP_DIRS = (str(_APP_DIR / "db") + "/", str(_APP_DIR / "monitoring") + "/")
# The standard library and installed packages (gunicorn, flask, sqlalchemy ...).
LIBRARY_DIRS = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
MONITORING_THREAD = "stockroom-reporter"
MAX_SLOW_STATEMENTS = 200
SAMPLES_PER_STATEMENT = 100
STATEMENT_SECONDS = histogram("stockroom_db_query_duration_seconds", "Duration of SQL statements.")


@functools.lru_cache(maxsize=4096)
def _our_file(filename: str) -> str | None:
    """``filename`` relative to the project if it is our code (not app/db or
    app/monitoring, not a library), else None. Cached: this runs for every frame of
    every checkout."""
    if filename.startswith((*LIBRARY_DIRS, *SKIP_DIRS, "<")):
        return None
    return os.path.relpath(filename, PROJECT_DIR)


def code_location(start: FrameType | None = None) -> str:
    """The innermost frame of our own code (not app/db or app/monitoring, not a
    library) from ``start`` outwards (by default the caller's caller)."""
    frame: FrameType | None = start if start is not None else sys._getframe(2)
    while frame is not None:
        where = _our_file(frame.f_code.co_filename)
        if where is not None:
            return f"{where}:{frame.f_lineno} {frame.f_code.co_name}"
        frame = frame.f_back
    return "(library code)"


def request_endpoint() -> str:
    """The Flask endpoint serving this request (never the raw path); outside a
    request, "(monitoring)" for the worker's reporter thread, else "(background)"."""
    if not has_request_context():
        if threading.current_thread().name == MONITORING_THREAD:
            return "(monitoring)"
        return "(background)"
    return request.endpoint or "(unmatched)"


@dataclass
class SlowStatement:
    """Aggregated timings of one slow statement shape."""

    sql: str
    count: int = 0
    total_ms: float = 0.0
    max_ms: float = 0.0
    samples: deque = field(default_factory=lambda: deque(maxlen=SAMPLES_PER_STATEMENT))
    last_seen: datetime | None = None
    endpoint: str = ""
    location: str = ""
    params: dict | None = None

    @property
    def fingerprint(self) -> str:
        """Stable id of the statement shape."""
        return fingerprint(self.sql)


class SlowStatements:
    """This process's slow statements, bounded (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[str, SlowStatement] = {}
        self.dirty: set[str] = set()
        # Every slow execution ever, evicted shapes included (the overview's "recently").
        self.total = 0

    def record(self, statement: str, ms: float, params: object, endpoint: str) -> None:
        """Capture one slow execution."""
        sql = normalize(statement)
        location = code_location()
        with self.lock:
            self.total += 1
            entry = self.entries.get(sql)
            if entry is None:
                if len(self.entries) >= MAX_SLOW_STATEMENTS:
                    # Bounded: forget the statement that has cost the least so far.
                    cheapest = min(self.entries, key=lambda key: self.entries[key].total_ms)
                    del self.entries[cheapest]
                entry = self.entries[sql] = SlowStatement(sql)
            entry.count += 1
            entry.total_ms += ms
            entry.max_ms = max(entry.max_ms, ms)
            entry.samples.append(ms)
            entry.last_seen = datetime.now(UTC)
            entry.endpoint = endpoint
            entry.location = location
            entry.params = _explainable_params(sql, params)
            self.dirty.add(sql)

    def take_changed(self) -> list[dict]:
        """The entries changed since the last call, as report rows (copied under the lock)."""
        with self.lock:
            changed = [self.entries[sql] for sql in self.dirty if sql in self.entries]
            self.dirty.clear()
            return [
                {
                    "fingerprint": entry.fingerprint,
                    "sql": entry.sql,
                    "count": entry.count,
                    "total_ms": entry.total_ms,
                    "max_ms": entry.max_ms,
                    "samples": list(entry.samples),
                    "last_seen": entry.last_seen,
                    "endpoint": entry.endpoint,
                    "location": entry.location,
                    "params": entry.params,
                }
                for entry in changed
            ]


def _explainable_params(sql: str, params: object) -> dict | None:
    """Parameters worth keeping for EXPLAIN ANALYZE: only a SELECT's, as plain JSON
    values (a write's values, such as password hashes, are never kept)."""
    if not isinstance(params, dict) or not sql.lstrip("( ").upper().startswith(("SELECT", "WITH")):
        return None
    plain = (int, float, str, bool, list, type(None))
    return {key: value if isinstance(value, plain) else str(value) for key, value in params.items()}


# One per process: gunicorn workers are separate processes.
slow_statements = SlowStatements()


class TimedCursor(psycopg.Cursor[TupleRow]):
    """A psycopg cursor that reports every statement it runs, failed ones too
    (timeouts above all are the slowest ones), to its class's ``record``.

    Timed at the driver rather than with SQLAlchemy's cursor events: any
    connection-level event makes SQLAlchemy join the engine's listeners onto every
    Connection and dispatch through them for each statement, which cost more than
    the timing itself (issue 13's profile)."""

    record: Callable[[str, object, float], None]
    # The sqlcommenter comment for the statement about to run (None: send as is).
    tag: Callable[[], str] | None = None

    # psycopg's two signatures: a template string carries its own values.
    @overload
    def execute(
        self,
        query: QueryNoTemplate,
        params: Params | None = None,
        *,
        prepare: bool | None = None,
        binary: bool | None = None,
    ) -> Self: ...

    @overload
    def execute(
        self, query: Template, *, prepare: bool | None = None, binary: bool | None = None
    ) -> Self: ...

    def execute(
        self,
        query: Query,
        params: Params | None = None,
        *,
        prepare: bool | None = None,
        binary: bool | None = None,
    ) -> Self:
        started = time.perf_counter()
        try:
            if isinstance(query, Template):
                if params is not None:  # refused by psycopg as well
                    raise TypeError("a template string query takes no parameters")
                return super().execute(query, prepare=prepare, binary=binary)
            sent = self.tag() + query if self.tag is not None and isinstance(query, str) else query
            return super().execute(sent, params, prepare=prepare, binary=binary)
        finally:
            self.record(_text(query, self), params, time.perf_counter() - started)

    def executemany(
        self, query: Query, params_seq: Iterable[Params], *, returning: bool = False
    ) -> None:
        started = time.perf_counter()
        try:
            return super().executemany(query, params_seq, returning=returning)
        finally:
            self.record(_text(query, self), None, time.perf_counter() - started)


def _text(query: Query, cursor: psycopg.Cursor[TupleRow]) -> str:
    """The statement as text (SQLAlchemy sends ``str``; psycopg also takes bytes,
    ``psycopg.sql`` compositions and template strings)."""
    if isinstance(query, str):
        return query
    if isinstance(query, bytes):
        return query.decode(errors="replace")
    return pgsql.as_string(query, cursor)


def install_statement_events(engine: Engine, app: Flask) -> None:
    """Time every statement on ``engine``'s connections; capture the slow ones."""
    threshold_seconds = app.config["SLOW_QUERY_MS"] / 1000

    def endpoint_now() -> str:
        account = current_account.get()
        return account.endpoint if account is not None else request_endpoint()

    def tag() -> str:
        # The frame of whoever called execute(): code_location walks out to our code.
        return statement_tags.comment(endpoint_now(), code_location(sys._getframe(2)))

    def record(statement: str, parameters: object, seconds: float) -> None:
        STATEMENT_SECONDS.observe(seconds)
        account = current_account.get()
        endpoint = account.endpoint if account is not None else request_endpoint()
        minute_totals.record_statement(statement, seconds, endpoint, code_location)
        if seconds >= threshold_seconds:
            slow_statements.record(statement, seconds * 1000, parameters, endpoint)
        if account is not None:
            account.add(statement, seconds)

    # One cursor class per engine: each app has its own threshold.
    cursor_class = type(
        "TimedCursor",
        (TimedCursor,),
        {
            "record": staticmethod(record),
            "tag": staticmethod(tag) if app.config["SQL_COMMENTS"] else None,
        },
    )

    @event.listens_for(engine, "connect")
    def _timed(dbapi_connection: DBAPIConnection, record_: ConnectionPoolEntry) -> None:
        dbapi_connection.cursor_factory = cursor_class
