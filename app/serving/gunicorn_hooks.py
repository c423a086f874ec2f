"""Gunicorn master hooks: size the worker pools before forking, and manage the
embedded server when gunicorn is started without DATABASE_URL."""

from __future__ import annotations

import gc
import os
import socket
import sys

import psycopg

from app import config
from app.config import ConfigError, libpq_url
from app.db.engine import PGBOUNCER, application_name
from app.db.errors import POOLER_REFUSAL, connection_failure, first_line
from app.db.pgbouncer_admin import bouncer_limits
from app.db.pool_plan import (
    PLAN_ENV,
    PoolPlanError,
    check_reports_server,
    fetch_server_limits,
    plan_for_config,
)
from app.db.transaction_limits import startup_options, web_limits
from app.devdb.embedded import EmbeddedPostgres
from app.history.recorder import Sampler
from app.monitoring.reporter import Reporter
from app.paths import EMBEDDED_PGDATA, INSTANCE_PATH

_started_embedded: EmbeddedPostgres | None = None


def access_log(environ: dict[str, str]) -> str | None:
    """gunicorn's ``accesslog``: "-" (stderr) or None (off).

    One line per request: the app writes its own JSON line (endpoint, db_ms, queries)
    whenever DB_INSTRUMENTATION is on, so gunicorn's access line is off then unless
    ACCESS_LOG=on asks for it; with the instrumentation off it is the only line.
    ACCESS_LOG=off silences it always.
    """
    choice = environ.get("ACCESS_LOG", "").strip()
    if choice in ("on", "off"):
        return "-" if choice == "on" else None
    app_logs_requests = environ.get("DB_INSTRUMENTATION", "").strip() != "off"
    return None if app_logs_requests else "-"


def _refuse(server, message: str) -> None:
    # One line on stderr, then a non-zero exit before any worker is forked.
    server.log.error(message)
    sys.exit(1)


def on_starting(server) -> None:
    """Compute the pool plan from the live server (and PgBouncer's limits behind a
    pooler) and hand it to the workers."""
    global _started_embedded
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        embedded = EmbeddedPostgres(EMBEDDED_PGDATA)
        if embedded.start():
            _started_embedded = embedded
        url = embedded.libpq_url()
        # Workers read DATABASE_URL: they use this server and never manage it.
        os.environ["DATABASE_URL"] = url
    _default_instance_name(server)
    try:
        settings = config.load(INSTANCE_PATH)
        pooled = settings["DB_POOLER"] == PGBOUNCER
        # The server's limits over a direct connection when there is one; else over
        # the workers' own URL with their startup options, so that a pooler refusing
        # them stops gunicorn here, in one line, rather than every request later.
        direct = settings["DATABASE_DIRECT_URL"]
        limits = fetch_server_limits(
            libpq_url(direct or url),
            connect_timeout=settings["DB_CONNECT_TIMEOUT"],
            application_name=application_name("web", settings["INSTANCE_NAME"]),
            options=None if pooled or direct else startup_options(web_limits(settings)),
        )
        bouncer = bouncer_limits(settings) if pooled else None
        plan = plan_for_config(
            settings,
            workers=server.cfg.workers,
            threads=server.cfg.threads,
            limits=limits,
            bouncer=bouncer,
        )
        if settings["REPORTS_DATABASE_URL"]:
            plan = _check_reports_server(plan, settings)
    except (PoolPlanError, ConfigError) as error:
        _refuse(server, str(error))
    except psycopg.OperationalError as error:
        if POOLER_REFUSAL in str(error):
            _refuse(server, f"refusing to start: {connection_failure(error, settings)}")
        _refuse(
            server,
            f"refusing to start: cannot read max_connections from the database: "
            f"{first_line(error)}",
        )
    for warning in plan.warnings:
        server.log.warning("pool plan: %s", warning)
    server.log.info("pool plan: %s", plan.formula)
    os.environ[PLAN_ENV] = plan.to_json()


def _check_reports_server(plan, settings):
    # A replica being down must not stop the app: reports fall back to the primary.
    try:
        limits = fetch_server_limits(
            libpq_url(settings["REPORTS_DATABASE_URL"]),
            connect_timeout=settings["DB_CONNECT_TIMEOUT"],
            application_name=application_name("reports", settings["INSTANCE_NAME"]),
        )
    except psycopg.Error as error:
        return check_reports_server(plan, None, error=first_line(error))
    return check_reports_server(plan, limits)


def _default_instance_name(server) -> None:
    # hostname:port of the address gunicorn really binds (-b overrides PORT), set
    # before the fork so every worker of this instance carries the same name.
    if os.environ.get("INSTANCE_NAME", "").strip():
        return
    bind = (server.cfg.bind or ["127.0.0.1:8000"])[0]
    port = bind.rsplit(":", 1)[-1] if not bind.startswith("unix:") else bind[5:]
    os.environ["INSTANCE_NAME"] = f"{socket.gethostname()}:{port}"


def on_exit(server) -> None:
    """Stop the embedded server if this gunicorn started it."""
    if _started_embedded is not None:
        _started_embedded.stop()


# Young objects collected every 50,000 allocations instead of 700: a request
# allocates thousands of short-lived objects, and at the default each request paid
# for several collections (about 15 % of a worker's CPU per order, measured with
# the collector on and off).
GC_THRESHOLDS = (50_000, 20, 100)


def tune_garbage_collector() -> None:
    """Freeze what the loaded app holds (modules, mappers, templates: never garbage)
    so no collection walks it again, and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def post_worker_init(worker) -> None:
    """Tune the collector for serving, and start the worker's monitoring reporter
    (app/monitoring/reporter.py), which also writes the worker's history."""
    tune_garbage_collector()
    app = worker.wsgi
    if getattr(app, "config", {}).get("DB_INSTRUMENTATION"):
        reporter = Reporter(app, tick=Sampler(app).tick)
        app.extensions["stockroom.reporter"] = reporter
        reporter.start()


def worker_exit(server, worker) -> None:
    """Stop the reporter and take this worker off the pool page."""
    app = getattr(worker, "wsgi", None)
    reporter = getattr(app, "extensions", {}).get("stockroom.reporter")
    if reporter is not None:
        reporter.stop()
