"""``flask devdb`` (the embedded server) and ``flask pool-plan``."""

from __future__ import annotations

import json
import os
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from app.config import default_threads, default_workers
from app.db.embedded import EmbeddedPostgres, EmbeddedPostgresError
from app.db.engine import PGBOUNCER, direct_engine
from app.db.errors import connection_failure, first_line
from app.db.local_pgbouncer import (
    DEFAULT_PGBOUNCER_PORT,
    LocalPgBouncer,
    PgBouncerError,
    configured_port,
    pgbouncer_binary,
)
from app.db.local_replica import LocalReplica
from app.db.pgbouncer import bouncer_limits, live_bouncer_pools
from app.db.pool_plan import (
    PoolPlan,
    PoolPlanError,
    check_reports_server,
    plan_for_config,
    read_server_limits,
)
from app.extensions import db
from app.paths import EMBEDDED_PGDATA, INSTANCE_PATH


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


@devdb.group("pgbouncer")
def devdb_pgbouncer() -> None:
    """PgBouncer (Debian's) in transaction mode in front of the embedded server."""


def _bouncer(port: int | None = None) -> LocalPgBouncer:
    server = EmbeddedPostgres(EMBEDDED_PGDATA)
    directory = INSTANCE_PATH / "pgbouncer"
    if port is None:
        port = configured_port(directory) or DEFAULT_PGBOUNCER_PORT
    return LocalPgBouncer(
        directory, server_socket_dir=server.socket_dir, os_user=server.os_user, port=port
    )


@devdb_pgbouncer.command("start")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help=f"Its socket's port number (default: the last one used, else {DEFAULT_PGBOUNCER_PORT}).",
)
def devdb_pgbouncer_start(port: int | None) -> None:
    """Start the embedded server (if needed) and PgBouncer; print the settings to use."""
    server = _server()
    bouncer = _bouncer()
    if port is not None and port != bouncer.port:
        if bouncer.is_running():
            raise click.ClickException(
                f"PgBouncer already runs with port {bouncer.port}: flask devdb pgbouncer stop first"
            )
        bouncer = _bouncer(port)
    try:
        pgbouncer_binary()
        server.start()
        started = bouncer.start()
    except (PgBouncerError, EmbeddedPostgresError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        ("started: " if started else "already running: ")
        + bouncer.status()
        + f"\nconfig and log in {bouncer.directory}; the embedded server keeps running"
        " (flask devdb stop)\nUse it with:\n"
        f"  export DB_POOLER=pgbouncer\n"
        f"  export DATABASE_URL='{bouncer.url(server.database)}'\n"
        f"  export DATABASE_DIRECT_URL='{server.libpq_url()}'\n"
        f"  export DB_POOLER_ADMIN_URL='{bouncer.admin_url()}'"
    )


@devdb_pgbouncer.command("stop")
def devdb_pgbouncer_stop() -> None:
    """Stop PgBouncer (the embedded server keeps running)."""
    try:
        stopped = _bouncer().stop()
    except PgBouncerError as error:
        raise click.ClickException(str(error)) from None
    click.echo("stopped" if stopped else "not running")


@devdb_pgbouncer.command("status")
def devdb_pgbouncer_status() -> None:
    """Say whether PgBouncer runs; exit status 3 when it does not."""
    bouncer = _bouncer()
    click.echo(bouncer.status())
    if not bouncer.is_running():
        sys.exit(3)


@devdb.group("replica")
def devdb_replica() -> None:
    """A streaming replica of the embedded server, for REPORTS_DATABASE_URL."""


def _replica() -> LocalReplica:
    return LocalReplica(EmbeddedPostgres(EMBEDDED_PGDATA), INSTANCE_PATH / "replica")


@devdb_replica.command("start")
@click.option("--fresh", is_flag=True, help="Delete the replica and make a new copy first.")
def devdb_replica_start(fresh: bool) -> None:
    """Start the embedded server (if needed) and the replica (created on first use)."""
    replica = _replica()
    try:
        _server().start()
        if fresh:
            replica.remove()
        started = replica.start()
    except EmbeddedPostgresError as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        ("started: " if started else "already running: ")
        + replica.status()
        + f"\nUse it for reports with:\n  export REPORTS_DATABASE_URL='{replica.libpq_url()}'"
    )


@devdb_replica.command("stop")
def devdb_replica_stop() -> None:
    """Stop the replica (the primary keeps running)."""
    try:
        stopped = _replica().stop()
    except EmbeddedPostgresError as error:
        raise click.ClickException(str(error)) from None
    click.echo("stopped" if stopped else "not running")


@devdb_replica.command("status")
def devdb_replica_status() -> None:
    """Say whether the replica runs; exit status 3 when it does not."""
    replica = _replica()
    click.echo(replica.status())
    if not replica.is_running():
        sys.exit(3)


@click.command("pool-plan")
@click.option(
    "--workers", type=click.IntRange(min=1), help="Default: WEB_CONCURRENCY or 2 x CPUs + 1."
)
@click.option("--threads", type=click.IntRange(min=1), help="Default: GUNICORN_THREADS or 4.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@with_appcontext
def pool_plan(workers: int | None, threads: int | None, as_json: bool) -> None:
    """Show how each gunicorn worker's pool is sized against this database (and,
    behind PgBouncer, how the bouncer's server pools fit the server)."""
    config = current_app.config
    try:
        with direct_engine().connect() as conn:
            limits = read_server_limits(conn)
    except OperationalError as error:
        raise click.ClickException(
            f"cannot reach the database: {connection_failure(error, config)}"
        ) from None
    pooled = config["DB_POOLER"] == PGBOUNCER
    try:
        plan = plan_for_config(
            config,
            workers=workers or default_workers(),
            threads=threads or default_threads(),
            limits=limits,
            bouncer=bouncer_limits(config) if pooled else None,
        )
    except PoolPlanError as error:
        raise click.ClickException(str(error)) from None
    if "reports" in db.engines:
        plan = check_reports_plan(plan)
    live = live_bouncer_pools(config) if pooled else None
    if as_json:
        click.echo(json.dumps(plan.as_dict() | {"pgbouncer_live": live}, indent=2))
        return
    click.echo(describe_plan(plan, live))
    for warning in plan.warnings:
        click.echo(f"warning: {warning}", err=True)


def check_reports_plan(plan: PoolPlan) -> PoolPlan:
    """The plan with the reports pools counted against the reports server's limits."""
    try:
        with db.engines["reports"].connect() as conn:
            return check_reports_server(plan, read_server_limits(conn))
    except SQLAlchemyError as error:
        return check_reports_server(plan, None, error=first_line(error))


def describe_plan(plan: PoolPlan, live: dict | None = None) -> str:
    """The plan as the lines ``flask pool-plan`` prints."""
    server = (
        f"max_connections={plan.server_max_connections}, "
        f"superuser_reserved_connections={plan.superuser_reserved}, "
        f"reserved_connections={plan.server_reserved}"
    )
    budget = (
        f"{plan.server_max_connections} - {plan.superuser_reserved} - "
        f"{plan.server_reserved} - {plan.reserved} (DB_POOL_RESERVED)"
    )
    head = (
        f"Pool plan: {plan.workers} workers x {plan.threads} threads (gthread), "
        f"{plan.instances} app instance(s)"
    )
    reports = ""
    if plan.reports_pool:
        reports = (
            f"\n  reports     {plan.instances} x {plan.workers} x {plan.reports_pool} = "
            f"{plan.reports_connections} connections to the reports database (budget "
            f"{_or_unknown(plan.reports_budget)})"
        )
    if plan.pooler is None:
        return (
            f"{head}\n"
            f"  server      {server}\n"
            f"  budget      = {budget} = {plan.budget}\n"
            f"  per_worker  = {plan.budget} // ({plan.instances} x {plan.workers})"
            f" = {plan.per_worker}\n"
            f"  pool_size   = min({plan.threads}, {plan.per_worker}) = {plan.pool_size}\n"
            f"  max_overflow= min({plan.per_worker} - {plan.pool_size}, {plan.threads}) = "
            f"{plan.max_overflow}\n"
            f"  at most {plan.max_total} connections from the whole deployment "
            f"(budget {plan.budget})" + reports
        )
    bouncer = plan.pooler
    if plan.per_worker is None:
        app_tier = (
            f"  app tier    PgBouncer max_client_conn unknown\n"
            f"  pool_size   = threads = {plan.pool_size}, max_overflow = threads = "
            f"{plan.max_overflow} (unchecked)\n"
        )
    else:
        app_tier = (
            f"  app tier    PgBouncer max_client_conn={bouncer.max_client_conn}\n"
            f"  per_worker  = {bouncer.max_client_conn} // ({plan.instances} x {plan.workers})"
            f" = {plan.per_worker}\n"
            f"  pool_size   = min({plan.threads}, {plan.per_worker}) = {plan.pool_size}\n"
            f"  max_overflow= min({plan.per_worker} - {plan.pool_size}, {plan.threads}) = "
            f"{plan.max_overflow}\n"
        )
    if bouncer.server_connections is None:
        server_pools = "PgBouncer server pool size unknown"
    else:
        fits = (
            "fits"
            if bouncer.server_budget is None or bouncer.server_connections <= bouncer.server_budget
            else "DOES NOT FIT"
        )
        server_pools = (
            f"PgBouncer server pool {bouncer.server_pool_size} + reserve "
            f"{bouncer.reserve_pool_size or 0} = {bouncer.server_connections} server "
            f"connections vs budget {bouncer.server_budget}: {fits}"
        )
    lines = (
        f"{head}, through PgBouncer (transaction pooling; limits from {bouncer.source})\n"
        f"{app_tier}"
        f"  at most {bouncer.app_connections} client connections from the whole deployment "
        f"(max_client_conn {_or_unknown(bouncer.max_client_conn)})\n"
        f"  server tier {server}\n"
        f"  budget      = {budget} = {bouncer.server_budget}\n"
        f"  {server_pools}"
    )
    lines += reports
    if live and "error" not in live:
        lines += (
            f"\n  live        PgBouncer: {live['clients_active']} clients active, "
            f"{live['clients_waiting']} waiting; {live['servers_active']} servers active, "
            f"{live['servers_idle']} idle; longest wait {live['max_wait_seconds']:.3f} s, "
            f"average wait {live['avg_wait_seconds'] * 1000:.2f} ms"
        )
    elif live:
        lines += f"\n  live        PgBouncer's admin console: {live['error']}"
    return lines


def _or_unknown(value) -> str:
    return "unknown" if value is None else str(value)
