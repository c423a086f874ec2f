"""/admin/db/vacuum/: what holds the xmin horizon back, vacuums in progress, and how
far each database is from transaction-ID wraparound."""

from __future__ import annotations

from flask import current_app
from flask_admin import expose

from app.auth.guards import SecureBaseView
from app.db.sql import query
from app.db.transactions import DbSession
from app.dbconsole.durations import duration_text
from app.extensions import db

HOLDERS_SHOWN = 20
TABLES_SHOWN = 10
# PostgreSQL refuses new transaction IDs about 2^31 transactions past the oldest
# unfrozen one (less a safety margin of a few million).
WRAPAROUND_LIMIT = 2**31


def wraparound_level(xid_age: int, freeze_max_age: int, limits: dict) -> str:
    """``critical`` past ``XID_AGE_CRITICAL``, ``warning`` past
    ``XID_AGE_WARNING_PERCENT`` of autovacuum_freeze_max_age (the overview's
    thresholds), ``due`` past freeze_max_age itself (an anti-wraparound autovacuum is
    due), else ``ok``."""
    if xid_age > limits["XID_AGE_CRITICAL"]:
        return "critical"
    if xid_age > freeze_max_age * limits["XID_AGE_WARNING_PERCENT"] / 100:
        return "warning"
    if xid_age >= freeze_max_age:
        return "due"
    return "ok"


def _percent(part: float, whole: float, digits: int = 1) -> float:
    return round(100 * part / whole, digits) if whole else 0.0


def vacuum_page(session: DbSession, limits: dict) -> dict:
    """Everything the vacuum page shows."""
    holders = [
        row._asdict()
        for row in session.execute(
            query("app.dbconsole", "vacuum_horizon.sql"), {"limit": HOLDERS_SHOWN}
        )
    ]
    for index, holder in enumerate(holders):
        # The oldest is the horizon (for this database's tables, a session in
        # another database does not hold it, but it does for the shared catalogs).
        holder["holds_horizon"] = index == 0
    databases = []
    for row in session.execute(query("app.dbconsole", "vacuum_wraparound.sql")):
        databases.append(
            row._asdict()
            | {
                "freeze_percent": _percent(row.xid_age, row.freeze_max_age),
                "limit_percent": _percent(row.xid_age, WRAPAROUND_LIMIT, 2),
                "multixact_percent": _percent(row.multixact_age, row.multixact_freeze_max_age),
                "level": wraparound_level(row.xid_age, row.freeze_max_age, limits),
            }
        )
    freeze_max_age = databases[0]["freeze_max_age"] if databases else 0
    tables = [
        row._asdict() | {"freeze_percent": _percent(row.xid_age, freeze_max_age)}
        for row in session.execute(
            query("app.dbconsole", "vacuum_oldest_tables.sql"), {"limit": TABLES_SHOWN}
        )
    ]
    return {
        "holders": holders,
        "progress": session.execute(query("app.dbconsole", "vacuum_progress.sql")).all(),
        "databases": databases,
        "tables": tables,
        "freeze_max_age": freeze_max_age,
        "wraparound_limit": WRAPAROUND_LIMIT,
        "warning_percent": limits["XID_AGE_WARNING_PERCENT"],
        "critical_age": limits["XID_AGE_CRITICAL"],
    }


class VacuumView(SecureBaseView):
    """The vacuum page."""

    @expose("/")
    def index(self):
        return self.render(
            "admin/db/vacuum.html",
            duration=duration_text,
            **vacuum_page(db.session, current_app.config["DB_CHECKS"]),
        )
