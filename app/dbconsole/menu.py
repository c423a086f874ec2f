"""The Database section's place in the admin console's menu."""

from __future__ import annotations

from flask_admin import Admin

from app.dbconsole.activity import ActivityView
from app.dbconsole.migrations import MigrationsView
from app.dbconsole.overview import OverviewView
from app.dbconsole.pool import PoolView
from app.dbconsole.schema import SchemaView
from app.dbconsole.vacuum import VacuumView
from app.workload.explain_box import ExplainBoxView
from app.workload.queries import QueriesView
from app.workload.regressions import RegressionsView


def add_to_admin(admin: Admin) -> None:
    """Add the database pages to ``admin`` under /admin/db/, in the "Database" menu."""
    admin.add_view(
        OverviewView(name="Overview", category="Database", endpoint="db_overview", url="db")
    )
    for view, name in (
        (PoolView, "Pool"),
        (QueriesView, "Queries"),
        (RegressionsView, "Regressions"),
        (ExplainBoxView, "Explain"),
        (MigrationsView, "Migrations"),
        (ActivityView, "Activity"),
        (SchemaView, "Schema"),
        (VacuumView, "Vacuum"),
    ):
        slug = name.lower()
        admin.add_view(
            view(name=name, category="Database", endpoint=f"db_{slug}", url=f"db/{slug}")
        )
