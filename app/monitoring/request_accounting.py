"""Per-request accounting: how long each request took and how much of it was the
database (a ``Server-Timing`` header and one JSON log line), a latency histogram
by endpoint, and the N+1 shape (one statement repeated many times in a request).

One account object per request, reached through a context variable: the statement
hooks run for every statement, and a ContextVar read costs far less than Flask's
``g`` and ``request`` proxies (several lookups per statement otherwise)."""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass, field

from flask import Flask, Response, g, request

from app.monitoring.counters import histogram, labelled_counter
from app.monitoring.minute_totals import minute_totals
from app.monitoring.statement_text import normalize

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


@dataclass(slots=True)
class RequestAccount:
    """What one request spent in the database so far."""

    started: float
    endpoint: str
    queries: int = 0
    seconds: float = 0.0
    statements: Counter = field(default_factory=Counter)

    def add(self, statement: str, seconds: float) -> None:
        """Count one statement."""
        self.queries += 1
        self.seconds += seconds
        self.statements[statement] += 1


# None outside a request (the reporter thread, CLI commands).
current_account: ContextVar[RequestAccount | None] = ContextVar(
    "stockroom_request_account", default=None
)


def is_static_endpoint(endpoint: str) -> bool:
    """A file served as it is (``static``, a blueprint's ``admin.static``, the icon):
    kept out of the console's endpoint history, where its many quick hits would make
    it the "busiest endpoint" of an app that did no work for them."""
    return endpoint in ("static", "favicon") or endpoint.endswith(".static")


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
    def _begin() -> None:
        account = RequestAccount(time.perf_counter(), request.endpoint or "(unmatched)")
        g.db_account_token = current_account.set(account)

    @app.teardown_request
    def _forget(_error: BaseException | None = None) -> None:
        token = g.pop("db_account_token", None)
        if token is not None:
            current_account.reset(token)

    @app.after_request
    def _end(response: Response) -> Response:
        account = current_account.get()
        if account is None:
            return response
        total_ms = (time.perf_counter() - account.started) * 1000
        db_ms = account.seconds * 1000
        response.headers.add(
            "Server-Timing",
            f'db;dur={db_ms:.1f};desc="{account.queries} queries", app;dur={total_ms:.1f}',
        )
        status = response.status_code
        REQUEST_SECONDS.observe(
            total_ms / 1000, request.method, account.endpoint, f"{status // 100}xx"
        )
        if not is_static_endpoint(account.endpoint):
            minute_totals.record_request(
                account.endpoint, status, total_ms / 1000, account.seconds, account.queries
            )
        # No statement can repeat ``threshold`` times in fewer queries than that.
        repeated, times = ("", 0)
        if account.queries >= threshold:
            repeated, times = account.statements.most_common(1)[0]
        if times >= threshold:
            N_PLUS_ONE.inc(account.endpoint)
            line = _log_line(response, account, total_ms)
            line["n_plus_one"] = {"times": times, "statement": normalize(repeated)[:300]}
            log.warning(json.dumps(line))
            if app.config["N_PLUS_ONE_RAISE"]:
                raise NPlusOneDetected(
                    f"{request.endpoint} ran one statement {times} times: "
                    f"{normalize(repeated)[:200]}"
                )
        elif log.isEnabledFor(logging.INFO):
            log.info(json.dumps(_log_line(response, account, total_ms)))
        return response


def _log_line(response: Response, account: RequestAccount, total_ms: float) -> dict:
    """The request's log line (built only when it is written)."""
    return {
        "method": request.method,
        "path": request.path,
        "endpoint": request.endpoint,
        "status": response.status_code,
        "ms": round(total_ms, 1),
        "db_ms": round(account.seconds * 1000, 1),
        "queries": account.queries,
        "pid": os.getpid(),
    }
