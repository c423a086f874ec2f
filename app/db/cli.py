"""``flask pool-plan``: how each gunicorn worker's pool is sized against the live
server (and PgBouncer's limits behind a pooler)."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from app.config import default_threads, default_workers
from app.db.engine import PGBOUNCER, direct_engine
from app.db.errors import connection_failure, first_line
from app.db.pgbouncer_admin import bouncer_limits, live_bouncer_pools
from app.db.pool_plan import (
    PoolPlan,
    PoolPlanError,
    check_reports_server,
    plan_for_config,
    read_server_limits,
)
from app.extensions import db


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
            f"  jobs        = {plan.instances} x {plan.jobs_pool} = {plan.jobs_connections} "
            f"(each instance's jobs process)\n"
            f"  per_worker  = ({plan.budget} - {plan.jobs_connections}) // ({plan.instances} x "
            f"{plan.workers}) = {plan.per_worker}\n"
            f"  pool_size   = min({plan.threads}, {plan.per_worker}) = {plan.pool_size}\n"
            f"  max_overflow= min({plan.per_worker} - {plan.pool_size}, {plan.threads}) = "
            f"{plan.max_overflow}\n"
            f"  at most {plan.max_total + plan.jobs_connections} connections from the whole "
            f"deployment (budget {plan.budget})" + reports
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
            f"  per_worker  = ({bouncer.max_client_conn} - {plan.jobs_connections} jobs) // "
            f"({plan.instances} x {plan.workers}) = {plan.per_worker}\n"
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


def _or_unknown(value: object) -> str:
    return "unknown" if value is None else str(value)
