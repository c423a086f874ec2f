"""/admin/db/migrations/: current revision, heads, pending revisions, history, and
whether the models have drifted from the database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_admin import expose

from app.admin.security import SecureBaseView
from app.db.transactions import DbSession
from app.extensions import db
from app.paths import MIGRATIONS_DIR


def migrations_page(session: DbSession) -> dict:
    """Migration state of the database against migrations/ and the models."""
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    connection = session.connection()
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    current = set(context.get_current_heads())
    applied = (
        {rev.revision for head in current for rev in script.iterate_revisions(head, "base")}
        if current
        else set()
    )
    history = [
        {
            "revision": rev.revision,
            "down_revision": rev.down_revision,
            "message": (rev.doc or "").strip(),
            "file": rev.path.rsplit("/", 1)[-1],
            "applied": rev.revision in applied,
            "is_head": rev.is_head,
        }
        for rev in script.walk_revisions()
    ]
    drift = [repr(diff) for diff in compare_metadata(context, db.metadata)]
    return {
        "current": sorted(current),
        "heads": sorted(script.get_heads()),
        "pending": [entry for entry in history if not entry["applied"]][::-1],
        "history": history,
        "drift": drift,
    }


class MigrationsView(SecureBaseView):
    """The migrations page."""

    @expose("/")
    def index(self):
        return self.render("admin/db/migrations.html", **migrations_page(db.session))
