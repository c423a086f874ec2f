"""Liveness and readiness probes."""

from __future__ import annotations

import os

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from app.db.pool_plan import (
    PoolPlanError,
    read_server_limits,
    single_process_plan,
)
from app.extensions import db
from app.paths import MIGRATIONS_DIR

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """200 while the process is up; touches nothing else."""
    return {"status": "ok"}


def migration_heads() -> set[str]:
    """The head revisions in migrations/, read once per process."""
    heads = current_app.extensions.get("stockroom.migration_heads")
    if heads is None:
        heads = set(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())
        current_app.extensions["stockroom.migration_heads"] = heads
    return heads


def pool_status() -> dict:
    """This worker's pool right now."""
    pool = db.engine.pool
    return {
        "pid": os.getpid(),
        "size": pool.size(),
        "checked_in": pool.checkedin(),
        "checked_out": pool.checkedout(),
        # SQLAlchemy counts overflow from -pool_size; report connections beyond the pool.
        "overflow": max(pool.overflow(), 0),
    }


@bp.get("/readyz")
def readyz():
    """200 when the database answers and is migrated to head, else 503."""
    plan = current_app.extensions["stockroom.pool_plan"]
    body: dict = {"status": "ready", "pool": plan.as_dict() if plan else None}
    try:
        with db.engine.connect() as conn:
            limits = read_server_limits(conn)
            current = set(MigrationContext.configure(conn).get_current_heads())
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        body |= {"status": "unavailable", "database": reason}
        return jsonify(body), 503, {"Retry-After": "2"}
    if plan is None:
        # Not under gunicorn: report the plan this single process would get.
        try:
            body["pool"] = single_process_plan(current_app.config, limits).as_dict()
        except PoolPlanError as error:
            body["pool"] = {"error": str(error)}
    body["pool"]["worker"] = pool_status()
    heads = migration_heads()
    body["migrations"] = {"current": sorted(current), "heads": sorted(heads)}
    if current != heads:
        body["status"] = "migrations-pending"
        return jsonify(body), 503, {"Retry-After": "5"}
    return jsonify(body)
