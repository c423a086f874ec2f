"""/admin/db/migrations/: a migration while it runs (revision, locks held and
wanted, sessions it blocks, index build and backfill progress), then the current
revision, heads, pending revisions, history, and whether the models have drifted
from the database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_admin import expose

from app.auth.guards import SecureBaseView
from app.db.migration_scripts import include_object, migration_scripts
from app.db.sql import query
from app.db.transactions import DbSession
from app.extensions import db


def migrations_page(session: DbSession) -> dict:
    """Migration state of the database against migrations/ and the models."""
    script = migration_scripts()
    connection = session.connection()
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": True,
            "include_object": include_object,
        },
    )
    current = set(context.get_current_heads())
    unknown = sorted(current - {rev.revision for rev in script.walk_revisions()})
    applied = applied_revisions(script, current)
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
    # A database migrated past what this app knows (a newer deploy): no drift to speak of.
    drift = [] if unknown else [repr(diff) for diff in compare_metadata(context, db.metadata)]
    return {
        "live_state": live_migration(session, current),
        "current": sorted(current),
        "unknown": unknown,
        "heads": sorted(script.get_heads()),
        "pending": [entry for entry in history if not entry["applied"]][::-1],
        "history": history,
        "drift": drift,
    }


def applied_revisions(script, current: set[str]) -> set[str]:
    """Every revision up to ``current`` (none of it, for revisions this app's
    migrations do not contain)."""
    known = {rev.revision for rev in script.walk_revisions()}
    return {
        rev.revision for head in current & known for rev in script.iterate_revisions(head, "base")
    }


# Progress reported by steps that ended this long ago still shows, as history.
STEP_HOURS = 24


def running_revision(script, current: set[str], steps) -> str:
    """The revision a running migration works on: the one its progress names, else
    the next after the database's current revision."""
    for step in steps:
        if step.running:
            return step.revision
    following = [
        rev.revision
        for rev in script.walk_revisions()
        if (rev.down_revision in current) or (not current and rev.down_revision is None)
    ]
    if following:
        return following[-1]
    return f"the one after {', '.join(sorted(current))} (not in this app's migrations)"


def live_migration(session: DbSession, current: set[str]) -> dict:
    """A migration running now: its sessions, locks, victims and progress (a fixed
    number of queries whatever is running)."""

    def rows(name: str, **params):
        return session.execute(query("app.dbconsole", name), params).all()

    sessions = rows("migration_sessions.sql")
    has_steps = session.execute(query("app.dbconsole", "migration_progress_table.sql")).scalar()
    steps = rows("migration_steps.sql", hours=STEP_HOURS) if has_steps else []
    return {
        "sessions": sessions,
        "locks": rows("migration_locks.sql"),
        "blocked": rows("migration_blocked.sql"),
        "index_builds": rows("migration_index_progress.sql"),
        "steps": steps,
        "revision": running_revision(migration_scripts(), current, steps) if sessions else None,
    }


class MigrationsView(SecureBaseView):
    """The migrations page."""

    @expose("/")
    def index(self):
        return self.render("admin/db/migrations.html", **migrations_page(db.session))
