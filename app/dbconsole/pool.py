"""/admin/db/pool/: every worker's pool, the sizing plan, server connections,
and connections held too long."""

from __future__ import annotations

import os
from collections.abc import Sequence

from flask import Flask, current_app, request
from flask_admin import expose
from sqlalchemy import Row

from app.auth.guards import SecureBaseView
from app.db.pgbouncer_admin import live_bouncer_pools, process_bouncer_limits
from app.db.pool_plan import (
    PoolPlan,
    PoolPlanError,
    read_server_limits,
    single_process_plan,
)
from app.db.sql import query
from app.db.transactions import DbSession
from app.dbconsole.servers import servers_section
from app.extensions import db
from app.history import windows
from app.monitoring.deployment import deployment_check
from app.monitoring.worker_reports import HOST, live_reports, refresh_own_report
from app.workload import history_charts


def live_workers(session: DbSession, app: Flask) -> list[dict]:
    """Reports of live workers as dicts (this process included: the page refreshes
    its own report first)."""
    return [
        {
            column: getattr(row, column)
            for column in (
                "host",
                "pid",
                "role",
                "instance",
                "started_at",
                "reported_at",
                "plan",
                "pool",
                "counters",
            )
        }
        | {"serving_this_page": row.host == HOST and row.pid == os.getpid()}
        for row in live_reports(session, app)
    ]


def _app_tier(workers: list[dict]) -> dict:
    rows = [
        {
            "instance": w["instance"] or w["host"],
            "pid": w["pid"],
            "role": w["role"],
            "size": w["pool"].get("size", 0),
            "max_overflow": w["pool"].get("max_overflow", 0),
            "checked_out": w["pool"].get("checked_out", 0),
            "idle": w["pool"].get("checked_in", 0),
            "overflow": w["pool"].get("overflow", 0),
            "waiting": w["pool"].get("waiting") or 0,
            "waits": w["pool"].get("waits", 0),
            "wait_seconds": w["pool"].get("wait_seconds", 0.0),
        }
        for w in workers
    ]
    totals = {
        key: sum(row[key] for row in rows)
        for key in ("checked_out", "idle", "overflow", "waiting", "waits")
    }
    return {
        "workers": rows,
        **totals,
        "wait_seconds": round(sum(row["wait_seconds"] for row in rows), 3),
    }


def _server_tier(backends: Sequence[Row]) -> dict:
    states = {row.state: row for row in backends}
    return {
        "states": backends,
        "total": sum(row.backends for row in backends),
        "active": states["active"].backends if "active" in states else 0,
        "idle_in_transaction": sum(
            row.backends for row in backends if row.state.startswith("idle in transaction")
        ),
        "waiting_for_locks": sum(row.waiting_for_locks for row in backends),
    }


def pool_chain(
    workers: list[dict], bouncer: dict | None, backends: Sequence[Row], pooler: str
) -> dict:
    """The path of a request's connection as one chain: every worker's SQLAlchemy
    pool, then PgBouncer (when its admin console is configured), then the server's
    backends, with the bottleneck: the tier nearest the server where something waits
    (waiters further up are backed up behind it)."""
    app_tier = _app_tier(workers)
    server = _server_tier(backends)
    bouncer_ok = bouncer is not None and "error" not in bouncer
    bottleneck, reason = None, None
    if server["waiting_for_locks"]:
        bottleneck = "server"
        reason = (
            f"{server['waiting_for_locks']} of the app's backends wait for a lock: the "
            "holdup is inside the database (see Activity)."
        )
    elif bouncer is not None and bouncer_ok and bouncer["clients_waiting"]:
        bottleneck = "bouncer"
        reason = (
            f"{bouncer['clients_waiting']} client(s) wait at PgBouncer for a server "
            f"connection (the longest for {bouncer['max_wait_seconds']:.3f} s): its server "
            f"pool ({bouncer['servers_active'] + bouncer['servers_idle']} connections now) "
            "is the bottleneck."
        )
    elif app_tier["waiting"]:
        bottleneck = "app"
        reason = (
            f"{app_tier['waiting']} request(s) wait for a connection from their worker's "
            "pool: the app pools are the bottleneck."
        )
    return {
        "app": app_tier,
        "bouncer": bouncer,
        "bouncer_ok": bouncer_ok,
        "pooler": pooler,
        "server": server,
        "bottleneck": bottleneck,
        "reason": reason,
    }


def pool_page(session: DbSession, app: Flask) -> dict:
    """Everything the pool page shows."""
    workers = live_workers(session, app)
    limits = read_server_limits(session.connection())
    reported = next((w["plan"] for w in workers if w["plan"]), None)
    plan, plan_error = None, None
    try:
        plan = (
            PoolPlan.from_dict(reported)
            if reported
            else single_process_plan(app.config, limits, process_bouncer_limits(app))
        )
    except PoolPlanError as error:
        plan_error = str(error)
    connections = session.execute(query("app.dbconsole", "server_connections.sql")).all()
    ours = sum(c.connections for c in connections if c.application_name.startswith("stockroom:"))
    held = [
        {"host": w["host"], "pid": w["pid"], **h}
        for w in workers
        for h in w["pool"]["held_too_long"]
    ]
    # Read whenever an admin console is configured (None without one, {"error": ...}
    # when it cannot be read: the page says so).
    bouncer_live = live_bouncer_pools(app.config)
    backends = session.execute(query("app.dbconsole", "pool_chain_backends.sql")).all()
    replication = session.execute(query("app.dbconsole", "replication.sql")).all()
    return {
        "chain": pool_chain(workers, bouncer_live, backends, app.config["DB_POOLER"]),
        "workers": workers,
        "deployment": deployment_check(session, app),
        "bouncer_live": bouncer_live,
        "replication": replication,
        # The primary and each standby: role, timeline, sync state, lag.
        "servers": servers_section(session, app, replication),
        "plan": plan,
        "plan_error": plan_error,
        "limits": limits,
        "connections": connections,
        "app_connections": ours,
        "checked_out": sum(w["pool"]["checked_out"] for w in workers),
        "waiting_now": sum(w["pool"].get("waiting", 0) for w in workers),
        "held": held,
        "leak_seconds": app.config["DB_LEAK_SECONDS"],
    }


class PoolView(SecureBaseView):
    """The pool page."""

    @expose("/")
    def index(self):
        # Flask types current_app as Flask, not as the werkzeug LocalProxy it is.
        app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
        refresh_own_report(app)
        shown = windows.window(db.session, request.args.get("window"))
        markers = windows.markers(db.session, shown)
        return self.render(
            "admin/db/pool.html",
            window=shown,
            windows=windows.WINDOWS,
            charts=history_charts.pool_charts(db.session, shown, markers),
            **pool_page(db.session, app),
        )
