"""PgBouncer's admin console (the ``pgbouncer`` virtual database): its limits for
the pool plan, and its live pools for the pool page and /metrics.

The console speaks the simple query protocol only and has no transactions, so it
is read with plain psycopg in autocommit mode, one short connection per read.
"""

from __future__ import annotations

import psycopg
from flask import Flask

from app.db.pool_plan import BouncerLimits

ADMIN_CONNECT_TIMEOUT = 2


def _rows(admin_url: str, command: str) -> list[dict]:
    with psycopg.connect(
        admin_url,
        autocommit=True,
        connect_timeout=ADMIN_CONNECT_TIMEOUT,
        prepare_threshold=None,
    ) as conn:
        cursor = conn.execute(command)
        assert cursor.description is not None  # every SHOW command returns rows
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _describe(error: Exception) -> str:
    text = str(error).strip()
    if isinstance(error, KeyError):
        return f"its answer lacks the column {text}"
    return text.splitlines()[0] if text else repr(error)


def _positive(value: str | int | None) -> int | None:
    number = int(value) if value is not None and value != "" else 0
    return number or None


def read_bouncer_limits(admin_url: str, database: str) -> BouncerLimits:
    """max_client_conn and the server pool of ``database`` from ``SHOW CONFIG`` and
    ``SHOW DATABASES`` (a per-database ``pool_size`` overrides ``default_pool_size``)."""
    config = {row["key"]: row["value"] for row in _rows(admin_url, "SHOW CONFIG")}
    databases = {row["name"]: row for row in _rows(admin_url, "SHOW DATABASES")}
    entry = databases.get(database)
    pool_size = int(config["default_pool_size"])
    reserve = int(config.get("reserve_pool_size") or 0)
    max_db = _positive(config.get("max_db_connections"))
    if entry is not None:
        pool_size = int(entry["pool_size"] or pool_size)
        reserve = int(entry.get("reserve_pool") or reserve)
        max_db = _positive(entry.get("max_connections")) or max_db
    return BouncerLimits(
        max_client_conn=int(config["max_client_conn"]),
        pool_size=pool_size,
        reserve_pool_size=reserve,
        max_db_connections=max_db,
        source="admin-console",
    )


def bouncer_limits(config: dict) -> BouncerLimits:
    """The bouncer's limits: from its admin console when DB_POOLER_ADMIN_URL is set
    (falling back to the environment, with the reason, if it cannot be read), else
    from PGBOUNCER_MAX_CLIENT_CONN / PGBOUNCER_POOL_SIZE / PGBOUNCER_RESERVE_POOL_SIZE."""
    error = None
    if admin_url := config["DB_POOLER_ADMIN_URL"]:
        try:
            return read_bouncer_limits(admin_url, pooled_database_name(config))
        except (psycopg.Error, KeyError, ValueError, TypeError) as failed:
            error = _describe(failed)
    from_env = {
        "max_client_conn": config["PGBOUNCER_MAX_CLIENT_CONN"],
        "pool_size": config["PGBOUNCER_POOL_SIZE"],
        "reserve_pool_size": config["PGBOUNCER_RESERVE_POOL_SIZE"],
    }
    if any(value is not None for value in from_env.values()):
        return BouncerLimits(**from_env, source="environment", error=error)
    return BouncerLimits(source="unknown", error=error)


def pooled_database_name(config: dict) -> str:
    """The database name the app asks the bouncer for (its [databases] entry)."""
    from sqlalchemy.engine import make_url

    return make_url(config["SQLALCHEMY_DATABASE_URI"]).database or ""


def read_bouncer_pools(admin_url: str, database: str) -> dict:
    """The live state of ``database``'s pools: clients active and waiting, servers
    active and idle, the longest current wait, and the average wait (``SHOW STATS``)."""
    pools = [row for row in _rows(admin_url, "SHOW POOLS") if row["database"] == database]
    stats = next((row for row in _rows(admin_url, "SHOW STATS") if row["database"] == database), {})
    return {
        "database": database,
        "clients_active": sum(int(p["cl_active"]) for p in pools),
        "clients_waiting": sum(int(p["cl_waiting"]) for p in pools),
        "servers_active": sum(int(p["sv_active"]) for p in pools),
        "servers_idle": sum(int(p["sv_idle"]) for p in pools),
        "servers_used": sum(int(p["sv_used"]) for p in pools),
        "max_wait_seconds": max(
            (int(p["maxwait"]) + int(p.get("maxwait_us") or 0) / 1e6 for p in pools), default=0.0
        ),
        # Microseconds in SHOW STATS: average wait for a server per transaction.
        "avg_wait_seconds": float(stats.get("avg_wait_time") or 0) / 1e6,
        "pool_mode": next((p["pool_mode"] for p in pools), None),
    }


def process_bouncer_limits(app: Flask) -> BouncerLimits | None:
    """The bouncer's limits for a process not started by gunicorn, read once (None
    when no pooler is configured)."""
    if app.config["DB_POOLER"] != "pgbouncer":
        return None
    limits = app.extensions.get("stockroom.bouncer_limits")
    if limits is None:
        limits = app.extensions["stockroom.bouncer_limits"] = bouncer_limits(app.config)
    return limits


def live_bouncer_pools(config: dict) -> dict | None:
    """:func:`read_bouncer_pools` for our database, None without an admin console,
    or ``{"error": ...}`` when the console cannot be read."""
    if not config["DB_POOLER_ADMIN_URL"]:
        return None
    try:
        return read_bouncer_pools(config["DB_POOLER_ADMIN_URL"], pooled_database_name(config))
    except (psycopg.Error, KeyError, ValueError, TypeError) as error:
        # Another pooler (or version) may answer with other columns: a message, not a 500.
        return {"error": _describe(error)}
