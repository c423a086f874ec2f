"""/admin/db/activity/: running queries, idle-in-transaction sessions, and who
blocks whom."""

from __future__ import annotations

from flask_admin import expose

from app.admin.security import SecureBaseView
from app.db.sql import query
from app.db.transactions import DbSession
from app.extensions import db


def activity_page(session: DbSession) -> dict:
    """Sessions of this database and the lock waits between them."""
    sessions = session.execute(query("app.admin.database", "running_queries.sql")).all()
    return {
        "running": [s for s in sessions if s.state == "active"],
        "idle_in_transaction": [
            s for s in sessions if (s.state or "").startswith("idle in transaction")
        ],
        "others": [
            s
            for s in sessions
            if s.state not in ("active",) and not (s.state or "").startswith("idle in transaction")
        ],
        "lock_waits": session.execute(query("app.admin.database", "lock_waits.sql")).all(),
    }


class ActivityView(SecureBaseView):
    """The activity page."""

    @expose("/")
    def index(self):
        return self.render("admin/db/activity.html", **activity_page(db.session))
