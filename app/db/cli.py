"""``flask devdb`` (the embedded server) and ``flask pool-plan``."""

from __future__ import annotations

import json
import os
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import OperationalError

from app.config import default_threads, default_workers
from app.db.embedded import EmbeddedPostgres, EmbeddedPostgresError
from app.db.pool_plan import PoolPlanError, compute_plan, read_server_limits
from app.extensions import db
from app.paths import EMBEDDED_PGDATA


def _server() -> EmbeddedPostgres:
    server = EmbeddedPostgres(EMBEDDED_PGDATA)
    if os.environ.get("DATABASE_URL"):
        click.echo(
            "note: DATABASE_URL is set, so the app does not use this embedded server.", err=True
        )
    return server


@click.group("devdb")
def devdb() -> None:
    """Control the embedded development PostgreSQL (data in instance/postgres/)."""


@devdb.command("start")
def devdb_start() -> None:
    """Start it and leave it running; print its URL."""
    server = _server()
    try:
        started = server.start()
    except EmbeddedPostgresError as error:
        raise click.ClickException(str(error)) from None
    click.echo(("started: " if started else "already running: ") + server.libpq_url())


@devdb.command("stop")
def devdb_stop() -> None:
    """Stop it (fast shutdown: running transactions are rolled back)."""
    server = _server()
    try:
        stopped = server.stop()
    except EmbeddedPostgresError as error:
        raise click.ClickException(str(error)) from None
    click.echo("stopped" if stopped else "not running")


@devdb.command("status")
def devdb_status() -> None:
    """Say whether it runs; exit status 3 when it does not."""
    server = _server()
    click.echo(server.status())
    if not server.is_running():
        sys.exit(3)


@devdb.command("url")
def devdb_url() -> None:
    """Print the URL of the running server (for psql, DATABASE_URL, ...)."""
    server = _server()
    if not server.is_running():
        raise click.ClickException("the embedded server is not running: flask devdb start")
    click.echo(server.libpq_url())


@click.command("pool-plan")
@click.option(
    "--workers", type=click.IntRange(min=1), help="Default: WEB_CONCURRENCY or 2 x CPUs + 1."
)
@click.option("--threads", type=click.IntRange(min=1), help="Default: GUNICORN_THREADS or 4.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@with_appcontext
def pool_plan(workers: int | None, threads: int | None, as_json: bool) -> None:
    """Show how each gunicorn worker's pool is sized against this database."""
    try:
        with db.engine.connect() as conn:
            limits = read_server_limits(conn)
    except OperationalError as error:
        raise click.ClickException(f"cannot reach the database: {error.orig}") from None
    config = current_app.config
    try:
        plan = compute_plan(
            workers=workers or default_workers(),
            threads=threads or default_threads(),
            instances=config["APP_INSTANCES"],
            reserved=config["DB_POOL_RESERVED"],
            limits=limits,
        )
    except PoolPlanError as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps(plan.as_dict(), indent=2))
        return
    click.echo(
        f"Pool plan: {plan.workers} workers x {plan.threads} threads (gthread), "
        f"{plan.instances} app instance(s)\n"
        f"  server      max_connections={plan.server_max_connections}, "
        f"superuser_reserved_connections={plan.superuser_reserved}, "
        f"reserved_connections={plan.server_reserved}\n"
        f"  budget      = {plan.server_max_connections} - {plan.superuser_reserved} - "
        f"{plan.server_reserved} - {plan.reserved} (DB_POOL_RESERVED) = {plan.budget}\n"
        f"  per_worker  = {plan.budget} // ({plan.instances} x {plan.workers})"
        f" = {plan.per_worker}\n"
        f"  pool_size   = min({plan.threads}, {plan.per_worker}) = {plan.pool_size}\n"
        f"  max_overflow= min({plan.per_worker} - {plan.pool_size}, {plan.threads}) = "
        f"{plan.max_overflow}\n"
        f"  at most {plan.max_total} connections from the whole deployment "
        f"(budget {plan.budget})"
    )
    if plan.warning:
        click.echo(f"warning: {plan.warning}", err=True)
