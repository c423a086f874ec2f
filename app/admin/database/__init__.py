"""The admin's Database section: pool, queries, migrations, activity."""

from app.admin.database.activity import ActivityView
from app.admin.database.migrations import MigrationsView
from app.admin.database.pool import PoolView
from app.admin.database.queries import QueriesView

__all__ = ["ActivityView", "MigrationsView", "PoolView", "QueriesView"]
