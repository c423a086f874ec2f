"""/admin/db/pool/: every worker's pool, the sizing plan, server connections,
and connections held too long."""

from __future__ import annotations

import os

from flask import Flask, current_app, request
from flask_admin import expose

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
from app.dbconsole import history_charts
from app.extensions import db
from app.history import windows
from app.monitoring.deployment import deployment_check
from app.monitoring.worker_reports import HOST, live_reports, refresh_own_report


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
    bouncer_live = None
    if app.config["DB_POOLER"] == "pgbouncer" and app.config["DB_POOLER_ADMIN_URL"]:
        bouncer_live = live_bouncer_pools(app.config)
    return {
        "workers": workers,
        "deployment": deployment_check(session, app),
        "bouncer_live": bouncer_live,
        "replication": session.execute(query("app.dbconsole", "replication.sql")).all(),
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
