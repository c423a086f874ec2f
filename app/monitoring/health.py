"""Liveness and readiness probes."""

from __future__ import annotations

import os

from alembic.migration import MigrationContext
from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import QueuePool

from app.db.errors import connection_failure
from app.db.migration_scripts import migration_scripts
from app.db.pgbouncer_admin import process_bouncer_limits
from app.db.pool_plan import (
    PoolPlanError,
    read_server_limits,
    single_process_plan,
)
from app.extensions import db
from app.monitoring.deployment import deployment_check

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    """200 while the process is up; touches nothing else."""
    return {"status": "ok"}


def migration_heads() -> set[str]:
    """The head revisions in migrations/, read once per process."""
    heads = current_app.extensions.get("stockroom.migration_heads")
    if heads is None:
        heads = set(migration_scripts().get_heads())
        current_app.extensions["stockroom.migration_heads"] = heads
    return heads


def pool_status() -> dict:
    """This worker's pool right now."""
    pool = db.engine.pool
    assert isinstance(pool, QueuePool)  # engine_options' pool, or PostgreSQL's default
    return {
        "pid": os.getpid(),
        "size": pool.size(),
        "checked_in": pool.checkedin(),
        "checked_out": pool.checkedout(),
        # SQLAlchemy counts overflow from -pool_size; report connections beyond the pool.
        "overflow": max(pool.overflow(), 0),
    }


def deployment_status() -> dict | None:
    """Instances and connections live now vs the plan (None if it cannot be read)."""
    try:
        return deployment_check(db.session, current_app)
    except SQLAlchemyError:
        return None
    finally:
        db.session.remove()


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """200 when the database answers and is migrated to head, else 503."""
    plan = current_app.extensions["stockroom.pool_plan"]
    body: dict = {"status": "ready", "pool": plan.as_dict() if plan else None}
    try:
        with db.engine.connect() as conn:
            limits = read_server_limits(conn)
            current = set(MigrationContext.configure(conn).get_current_heads())
    except SQLAlchemyError as error:
        body |= {"status": "unavailable", "database": connection_failure(error, current_app.config)}
        return jsonify(body), 503, {"Retry-After": "2"}
    plan_warnings: tuple[str, ...] = plan.warnings if plan else ()
    if plan is None:
        # Not under gunicorn: report the plan this single process would get.
        try:
            single = single_process_plan(
                current_app.config, limits, process_bouncer_limits(current_app)
            )
            body["pool"], plan_warnings = single.as_dict(), single.warnings
        except PoolPlanError as error:
            body["pool"] = {"error": str(error)}
    body["pool"]["worker"] = pool_status()
    body["deployment"] = deployment_status()
    # Warnings keep the status 200: a 503 would take every instance out of the load
    # balancer at once over a sizing mistake.
    body["warnings"] = [*plan_warnings, *(body["deployment"] or {}).get("warnings", [])]
    heads = migration_heads()
    body["migrations"] = {"current": sorted(current), "heads": sorted(heads)}
    if current != heads:
        body["status"] = "migrations-pending"
        return jsonify(body), 503, {"Retry-After": "5"}
    return jsonify(body)
