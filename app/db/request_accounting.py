"""Per-request accounting: how long each request took and how much of it was the
database (a ``Server-Timing`` header and one JSON log line), a latency histogram
by endpoint, and the N+1 shape (one statement repeated many times in a request)."""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter

from flask import Flask, g, request

from app.db.counters import histogram, labelled_counter
from app.db.history import history
from app.db.statements import normalize, request_endpoint

log = logging.getLogger("stockroom.request")

REQUEST_SECONDS = histogram(
    "stockroom_http_request_duration_seconds",
    "Time to answer a request, by method, Flask endpoint and status class.",
    "method",
    "endpoint",
    "status",
)
N_PLUS_ONE = labelled_counter(
    "stockroom_n_plus_one_total",
    "Requests that ran one statement N_PLUS_ONE_THRESHOLD times or more, by endpoint.",
    "endpoint",
)


class NPlusOneDetected(RuntimeError):
    """A request ran the same statement many times (raised only when configured)."""


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
        endpoint = request_endpoint()
        REQUEST_SECONDS.observe(
            total_ms / 1000, request.method, endpoint, f"{response.status_code // 100}xx"
        )
        history.record_request(
            endpoint, response.status_code, total_ms / 1000, g.db_seconds, g.db_queries
        )
        repeated, times = (g.db_statements.most_common(1) or [("", 0)])[0]
        if times >= threshold:
            N_PLUS_ONE.inc(endpoint)
            line = _log_line(response, total_ms, db_ms)
            line["n_plus_one"] = {"times": times, "statement": normalize(repeated)[:300]}
            log.warning(json.dumps(line))
            if app.config["N_PLUS_ONE_RAISE"]:
                raise NPlusOneDetected(
                    f"{request.endpoint} ran one statement {times} times: "
                    f"{normalize(repeated)[:200]}"
                )
        elif log.isEnabledFor(logging.INFO):
            log.info(json.dumps(_log_line(response, total_ms, db_ms)))
        return response


def _log_line(response, total_ms: float, db_ms: float) -> dict:
    """The request's log line (built only when it is written)."""
    return {
        "method": request.method,
        "path": request.path,
        "endpoint": request.endpoint,
        "status": response.status_code,
        "ms": round(total_ms, 1),
        "db_ms": round(db_ms, 1),
        "queries": g.db_queries,
        "pid": os.getpid(),
    }
