"""/admin/db/activity/: running queries, idle-in-transaction sessions, who blocks
whom, and the way out: cancel a query or terminate a session (confirmed, checked
against the session the operator saw, audited)."""

from __future__ import annotations

import logging
from datetime import datetime

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from app.auth.guards import SecureBaseView
from app.db.errors import first_line
from app.db.sql import query
from app.db.transactions import DbSession, run_in_transaction
from app.dbconsole.models import ACTIONS, ConsoleAction
from app.extensions import db

log = logging.getLogger("stockroom.console")
AUDIT_ROWS = 20
VERBS = {"cancel": "Cancel query", "terminate": "Terminate session"}


def activity_page(session: DbSession) -> dict:
    """Sessions of this database, the lock waits between them, and recent actions."""
    sessions = session.execute(query("app.dbconsole", "running_queries.sql")).all()
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
        "lock_waits": session.execute(query("app.dbconsole", "lock_waits.sql")).all(),
        "actions": session.scalars(
            select(ConsoleAction).order_by(ConsoleAction.id.desc()).limit(AUDIT_ROWS)
        ).all(),
    }


def refusal(backend) -> str | None:
    """Why the console will not signal ``backend``, or None."""
    if backend is None:
        return "No such session any more."
    if backend.own:
        return "That is the console's own session."
    if not backend.same_database:
        return "That session is not connected to this database."
    return None


def signal_backend(
    session: DbSession, *, pid: int, backend_start: datetime, action: str
) -> tuple[str, str, object]:
    """Cancel or terminate ``pid`` if it is still the session started at
    ``backend_start``: (result, detail, the row seen)."""
    try:
        with session.begin_nested():
            row = session.execute(
                query("app.dbconsole", "signal_backend.sql"),
                {"pid": pid, "backend_start": backend_start, "action": action},
            ).first()
    except DBAPIError as error:
        # The server's own refusal, e.g. permission denied for a superuser's session.
        return "refused", first_line(error), None
    if row is None:
        return "refused", "No such session any more.", None
    if reason := refusal(row):
        return "refused", reason, row
    if not row.same_session:
        return "refused", f"pid {pid} now belongs to another session; nothing was done.", row
    if not row.signalled:
        return "failed", "The server did not signal the session (it may just have ended).", row
    return "done", "", row


class ActivityView(SecureBaseView):
    """The activity page, and cancel/terminate with a confirmation step."""

    @expose("/")
    def index(self):
        return self.render("admin/db/activity.html", verbs=VERBS, **activity_page(db.session))

    @expose("/<int:pid>/<action>", methods=("GET",))
    def confirm(self, pid: int, action: str):
        """What the operator is about to stop, and the form that stops it."""
        if action not in ACTIONS:
            abort(404)
        backend = db.session.execute(query("app.dbconsole", "backend.sql"), {"pid": pid}).first()
        if reason := refusal(backend):
            flash(reason, "error")
            return redirect(url_for(".index"))
        return self.render(
            "admin/db/signal.html", backend=backend, action=action, verb=VERBS[action]
        )

    @expose("/<int:pid>/<action>", methods=("POST",))
    def signal(self, pid: int, action: str):
        """Cancel or terminate, then audit and log what happened."""
        if action not in ACTIONS:
            abort(404)
        try:
            backend_start = datetime.fromisoformat(request.form.get("backend_start", ""))
        except ValueError:
            flash("The form lost which session it was for; look again.", "error")
            return redirect(url_for(".index"))

        def work(session):
            result, detail, row = signal_backend(
                session, pid=pid, backend_start=backend_start, action=action
            )
            session.add(
                ConsoleAction(
                    admin_id=current_user.id,
                    admin_email=current_user.email,
                    pid=pid,
                    application_name=getattr(row, "application_name", None),
                    statement=getattr(row, "statement", None),
                    action=action,
                    result=result,
                    detail=detail or None,
                )
            )
            return result, detail

        result, detail = run_in_transaction(db.session, work)
        log.warning("console: %s %s pid %s: %s %s", current_user.email, action, pid, result, detail)
        if result == "done":
            flash(f"{VERBS[action]}: sent to pid {pid}.", "success")
        else:
            flash(f"{VERBS[action]} for pid {pid} {result}: {detail}", "error")
        return redirect(url_for(".index"))
