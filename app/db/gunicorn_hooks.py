"""Gunicorn master hooks: size the worker pools before forking, and manage the
embedded server when gunicorn is started without DATABASE_URL."""

from __future__ import annotations

import os
import sys

import psycopg

from app.config import ConfigError, env_int
from app.db.embedded import EmbeddedPostgres
from app.db.pool_plan import PLAN_ENV, PoolPlanError, compute_plan, fetch_server_limits
from app.paths import EMBEDDED_PGDATA

_started_embedded: EmbeddedPostgres | None = None


def _refuse(server, message: str) -> None:
    # One line on stderr, then a non-zero exit before any worker is forked.
    server.log.error(message)
    sys.exit(1)


def on_starting(server) -> None:
    """Compute the pool plan from the live server and hand it to the workers."""
    global _started_embedded
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        embedded = EmbeddedPostgres(EMBEDDED_PGDATA)
        if embedded.start():
            _started_embedded = embedded
        url = embedded.libpq_url()
        # Workers read DATABASE_URL: they use this server and never manage it.
        os.environ["DATABASE_URL"] = url
    url = url.replace("postgresql+psycopg://", "postgresql://", 1)
    try:
        limits = fetch_server_limits(url, connect_timeout=env_int("DB_CONNECT_TIMEOUT", 5))
        plan = compute_plan(
            workers=server.cfg.workers,
            threads=server.cfg.threads,
            instances=env_int("APP_INSTANCES", 1, minimum=1),
            reserved=env_int("DB_POOL_RESERVED", 5),
            limits=limits,
        )
    except (PoolPlanError, ConfigError) as error:
        _refuse(server, str(error))
    except psycopg.OperationalError as error:
        _refuse(
            server,
            f"refusing to start: cannot read max_connections from the database: "
            f"{str(error).strip().splitlines()[0]}",
        )
    if plan.warning:
        server.log.warning("pool plan: %s", plan.warning)
    server.log.info("pool plan: %s", plan.formula)
    os.environ[PLAN_ENV] = plan.to_json()


def on_exit(server) -> None:
    """Stop the embedded server if this gunicorn started it."""
    if _started_embedded is not None:
        _started_embedded.stop()


def post_worker_init(worker) -> None:
    """Start the worker's monitoring reporter (app/db/reporter.py)."""
    from app.db.reporter import Reporter

    app = worker.wsgi
    if getattr(app, "config", {}).get("DB_INSTRUMENTATION"):
        reporter = Reporter(app)
        app.extensions["stockroom.reporter"] = reporter
        reporter.start()


def worker_exit(server, worker) -> None:
    """Stop the reporter and take this worker off the pool page."""
    app = getattr(worker, "wsgi", None)
    reporter = getattr(app, "extensions", {}).get("stockroom.reporter")
    if reporter is not None:
        reporter.stop()
