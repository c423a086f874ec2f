"""Is the deployment the one the pool plan assumed? Every worker reports its
instance and its pool (app/monitoring/reporter.py); this compares what is live now with
the plan: how many instances report, and how many connections they hold."""

from __future__ import annotations

from flask import Flask

from app.db.pool_plan import PoolPlan
from app.db.transactions import DbSession
from app.monitoring.worker_reports import live_reports


def deployment_check(session: DbSession, app: Flask) -> dict:
    """Live instances and connections vs the plan, with a warning for each mismatch
    that says which number to fix."""
    web = [r for r in live_reports(session, app) if r.role == "web"]
    plan = app.extensions.get("stockroom.pool_plan")
    reported = next((r.plan for r in web if r.plan), None)
    if plan is None and reported:
        plan = PoolPlan.from_dict(reported)
    instances: dict[str, dict] = {}
    for report in web:
        name = report.instance or report.host
        entry = instances.setdefault(name, {"instance": name, "workers": 0, "connections": 0})
        entry["workers"] += 1
        entry["connections"] += report.pool["checked_in"] + report.pool["checked_out"]
    connections = sum(entry["connections"] for entry in instances.values())
    result = {
        "instances_reporting": len(instances),
        "instances_planned": plan.instances if plan else None,
        "app_connections": connections,
        "app_connections_allowed": plan.max_total if plan else None,
        "instances": sorted(instances.values(), key=lambda entry: entry["instance"]),
        "warnings": [],
    }
    if plan is None:
        return result
    if len(instances) > plan.instances:
        result["warnings"].append(
            f"{len(instances)} app instances are reporting ({', '.join(sorted(instances))}) "
            f"but the pool plan assumes APP_INSTANCES={plan.instances}: set "
            f"APP_INSTANCES={len(instances)} on every instance and restart them, so that "
            f"their pools together fit the budget"
        )
    if connections > plan.max_total:
        target = "PgBouncer's max_client_conn" if plan.pooler else "the server's budget"
        result["warnings"].append(
            f"Stockroom instances hold {connections} connections but the plan allows "
            f"{plan.max_total} ({plan.instances} instance(s) x {plan.workers} workers x "
            f"{plan.pool_size + plan.max_overflow}) within {target}: set APP_INSTANCES to the "
            f"number of instances actually running"
        )
    return result
