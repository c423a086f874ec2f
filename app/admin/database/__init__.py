"""The admin's Database section: overview, pool, queries, migrations, activity, schema."""

from app.admin.database.activity import ActivityView
from app.admin.database.migrations import MigrationsView
from app.admin.database.overview import OverviewView
from app.admin.database.pool import PoolView
from app.admin.database.queries import QueriesView
from app.admin.database.schema import SchemaView

__all__ = [
    "ActivityView",
    "MigrationsView",
    "OverviewView",
    "PoolView",
    "QueriesView",
    "SchemaView",
]
