"""What the database is doing, seen from this process.

- Every statement is timed (SQLAlchemy cursor events). Per request: a query
  count, the database time, and repeated identical statements (the N+1 shape)
  go into a ``Server-Timing`` header and one structured log line.
- Statements slower than ``SLOW_QUERY_MS`` are aggregated by normalised SQL (count,
  mean, p95 from recent samples, max, last seen, endpoint and code location);
  parameters are kept only to re-run EXPLAIN ANALYZE, never shown.
- The pool counts waits for a connection, time spent waiting and timeouts, and
  remembers where each checked-out connection was taken (leak detection).

This process's numbers live in :data:`stats`; :mod:`app.db.reporter` copies them
to PostgreSQL every few seconds so any worker can show the whole deployment.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import QueuePool

log = logging.getLogger("stockroom.request")
PROJECT_DIR = str(Path(__file__).resolve().parent.parent.parent)
SKIP_DIR = str(Path(__file__).resolve().parent)  # app/db: plumbing, not callers
# The standard library and installed packages (gunicorn, flask, sqlalchemy ...).
LIBRARY_DIRS = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
# Prometheus-style buckets for statement durations, in seconds.
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
MAX_SLOW_STATEMENTS = 200
SAMPLES_PER_STATEMENT = 100
_IN_LIST = re.compile(r"\(\s*%\((\w+?)_\d+\)s(?:\s*,\s*%\(\1_\d+\)s)*\s*\)")
_WHITESPACE = re.compile(r"\s+")


class NPlusOneDetected(RuntimeError):
    """A request ran the same statement many times (raised only when configured)."""


def normalize(statement: str) -> str:
    """One form per statement shape: IN-lists of any length collapse, whitespace folds."""
    return _WHITESPACE.sub(" ", _IN_LIST.sub(r"(%(\1)s...)", statement)).strip()


def code_location() -> str:
    """The innermost frame of our own code (not app/db, not a library): the caller."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        ours = not filename.startswith((*LIBRARY_DIRS, SKIP_DIR, "<"))
        if ours:
            where = os.path.relpath(filename, PROJECT_DIR)
            return f"{where}:{frame.f_lineno} {frame.f_code.co_name}"
        frame = frame.f_back
    return "(library code)"


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
        return hashlib.sha1(self.sql.encode()).hexdigest()[:16]


class WorkerStats:
    """This process's database numbers (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started_at = datetime.now(UTC)
        self.queries = 0
        self.query_seconds = 0.0
        self.buckets = [0] * (len(DURATION_BUCKETS) + 1)
        self.requests: Counter = Counter()
        self.orders: Counter = Counter()
        # Where reports ran (primary, replica) and why a replica was skipped.
        self.reports: Counter = Counter()
        self.pool_waits = 0
        self.pool_wait_seconds = 0.0
        self.pool_timeouts = 0
        self.checked_out: dict[int, tuple[float, datetime, str, str]] = {}
        self.slow: dict[str, SlowStatement] = {}
        self.dirty: set[str] = set()

    def record_statement(
        self, statement: str, seconds: float, params, threshold_ms: int, endpoint: str
    ) -> None:
        """Count a statement; capture it if it was slow."""
        with self.lock:
            self.queries += 1
            self.query_seconds += seconds
            index = next(
                (i for i, b in enumerate(DURATION_BUCKETS) if seconds <= b), len(DURATION_BUCKETS)
            )
            self.buckets[index] += 1
        ms = seconds * 1000
        if ms < threshold_ms:
            return
        sql = normalize(statement)
        location = code_location()
        with self.lock:
            entry = self.slow.get(sql)
            if entry is None:
                if len(self.slow) >= MAX_SLOW_STATEMENTS:
                    # Bounded: forget the statement that has cost the least so far.
                    cheapest = min(self.slow, key=lambda key: self.slow[key].total_ms)
                    del self.slow[cheapest]
                entry = self.slow[sql] = SlowStatement(sql)
            entry.count += 1
            entry.total_ms += ms
            entry.max_ms = max(entry.max_ms, ms)
            entry.samples.append(ms)
            entry.last_seen = datetime.now(UTC)
            entry.endpoint = endpoint
            entry.location = location
            entry.params = _explainable_params(sql, params)
            self.dirty.add(sql)

    def record_order(self, outcome: str, retries: int) -> None:
        """Count an order request's outcome and the retries it took."""
        with self.lock:
            self.orders[outcome] += 1
            self.orders["retries"] += retries

    def pool_snapshot(self, pool, leak_seconds: float) -> dict:
        """The pool's state now, with connections held longer than ``leak_seconds``."""
        now = time.monotonic()
        with self.lock:
            held = [
                {
                    "seconds": round(now - since, 1),
                    "since": taken.isoformat(),
                    "location": location,
                    "thread": thread,
                }
                for since, taken, location, thread in self.checked_out.values()
                if now - since >= leak_seconds
            ]
            return {
                "size": pool.size(),
                "checked_in": pool.checkedin(),
                "checked_out": pool.checkedout(),
                "overflow": max(pool.overflow(), 0),
                "max_overflow": pool._max_overflow,
                "waits": self.pool_waits,
                "wait_seconds": round(self.pool_wait_seconds, 4),
                "timeouts": self.pool_timeouts,
                "held_too_long": sorted(held, key=lambda h: -h["seconds"]),
            }

    def counters(self) -> dict:
        """Cumulative counters, for /metrics."""
        with self.lock:
            return {
                "queries": self.queries,
                "query_seconds": round(self.query_seconds, 6),
                "buckets": list(self.buckets),
                "requests": dict(self.requests),
                "orders": dict(self.orders),
                "reports": dict(self.reports),
            }


def _explainable_params(sql: str, params) -> dict | None:
    """Parameters worth keeping for EXPLAIN ANALYZE: only a SELECT's, as plain JSON
    values (a write's values, such as password hashes, are never kept)."""
    if not isinstance(params, dict) or not sql.lstrip("( ").upper().startswith(("SELECT", "WITH")):
        return None
    plain = (int, float, str, bool, list, type(None))
    return {key: value if isinstance(value, plain) else str(value) for key, value in params.items()}


# One per process: gunicorn workers are separate processes.
stats = WorkerStats()


class InstrumentedQueuePool(QueuePool):
    """A QueuePool that counts waits for a free connection and timeouts."""

    def _do_get(self):
        # A checkout waits only when no connection is idle and no overflow is left
        # (opening a new connection is not waiting for one).
        queued = self._pool.empty() and 0 <= self._max_overflow <= self._overflow
        started = time.perf_counter()
        try:
            return super()._do_get()
        except PoolTimeout:
            with stats.lock:
                stats.pool_timeouts += 1
            raise
        finally:
            if queued:
                with stats.lock:
                    stats.pool_waits += 1
                    stats.pool_wait_seconds += time.perf_counter() - started


def install_engine_events(engine: Engine, app: Flask) -> None:
    """Time statements and track checkouts on ``engine``."""
    threshold = app.config["SLOW_QUERY_MS"]

    @event.listens_for(engine, "before_cursor_execute")
    def _start(conn, cursor, statement, parameters, context, executemany):
        conn.info.setdefault("stockroom_started", []).append(time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def _finish(conn, cursor, statement, parameters, context, executemany):
        _done(conn, statement, parameters)

    @event.listens_for(engine, "handle_error")
    def _failed(context):
        # Failed statements (timeouts above all) are often the slowest ones.
        if context.statement and context.connection is not None:
            _done(context.connection, context.statement, context.parameters)

    def _done(conn, statement, parameters):
        started = conn.info.get("stockroom_started")
        if not started:
            return
        seconds = time.perf_counter() - started.pop()
        in_request = has_request_context()
        endpoint = (request.endpoint or request.path) if in_request else "(background)"
        stats.record_statement(statement, seconds, parameters, threshold, endpoint)
        if in_request and "db_queries" in g:
            g.db_queries += 1
            g.db_seconds += seconds
            g.db_statements[statement] += 1

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, proxy):
        with stats.lock:
            stats.checked_out[id(record)] = (
                time.monotonic(),
                datetime.now(UTC),
                code_location(),
                threading.current_thread().name,
            )

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection, record):
        with stats.lock:
            stats.checked_out.pop(id(record), None)


def configure_request_log(app: Flask) -> None:
    """Send the per-request JSON lines to stderr (gunicorn's error log), unless
    REQUEST_LOG=off; tests leave logging to pytest."""
    if app.testing or log.handlers:
        return
    if not app.config["REQUEST_LOG"]:
        log.setLevel(logging.WARNING)  # N+1 warnings still reach the root logger
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def install_request_hooks(app: Flask) -> None:
    """Per-request query count, database time, Server-Timing and a log line."""
    threshold = app.config["N_PLUS_ONE_THRESHOLD"]
    configure_request_log(app)

    @app.before_request
    def _begin():
        g.request_started = time.perf_counter()
        g.db_queries = 0
        g.db_seconds = 0.0
        g.db_statements = Counter()

    @app.after_request
    def _end(response):
        if "db_queries" not in g:
            return response
        total_ms = (time.perf_counter() - g.request_started) * 1000
        db_ms = g.db_seconds * 1000
        response.headers.add(
            "Server-Timing",
            f'db;dur={db_ms:.1f};desc="{g.db_queries} queries", app;dur={total_ms:.1f}',
        )
        with stats.lock:
            stats.requests[f"{response.status_code // 100}xx"] += 1
        repeated, times = (g.db_statements.most_common(1) or [("", 0)])[0]
        line = {
            "method": request.method,
            "path": request.path,
            "endpoint": request.endpoint,
            "status": response.status_code,
            "ms": round(total_ms, 1),
            "db_ms": round(db_ms, 1),
            "queries": g.db_queries,
            "pid": os.getpid(),
        }
        if times >= threshold:
            line["n_plus_one"] = {"times": times, "statement": normalize(repeated)[:300]}
            log.warning(json.dumps(line))
            if app.config["N_PLUS_ONE_RAISE"]:
                raise NPlusOneDetected(
                    f"{request.endpoint} ran one statement {times} times: "
                    f"{normalize(repeated)[:200]}"
                )
        elif log.isEnabledFor(logging.INFO):
            log.info(json.dumps(line))
        return response
