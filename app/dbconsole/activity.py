"""/admin/db/activity/: running queries, idle-in-transaction sessions, who blocks
whom (the blocking tree, root blockers first), and the way out: cancel a query or
terminate a session (confirmed, checked against the session the operator saw,
audited)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from app.auth.guards import SecureBaseView
from app.db.errors import first_line
from app.db.sql import query
from app.db.transactions import DbSession, run_in_transaction
from app.dbconsole.durations import duration_text
from app.dbconsole.models import ACTIONS, ConsoleAction
from app.extensions import db
from app.monitoring.statement_tags import tags_of
from app.monitoring.statement_text import strip_comments

log = logging.getLogger("stockroom.console")
AUDIT_ROWS = 20
# A server pid is a positive int4: anything else names no session (and would not
# fit the audit's column).
MAX_PID = 2**31 - 1
VERBS = {"cancel": "Cancel query", "terminate": "Terminate session"}
# What each of the app's own roles (application_name stockroom:<role>:...) loses
# when one of its connections is terminated.
OWN_ROLES = {
    "web": ("a web worker", "its in-flight request will fail"),
    "reports": ("a web worker's reports pool", "its in-flight report will fail"),
    "jobs": ("the jobs process", "its running job will fail (and run again next period)"),
    "migrate": ("a migration (flask db upgrade)", "the migration will fail and roll back"),
}


@dataclass(frozen=True)
class OwnConnection:
    """One of Stockroom's own connections, read from its application_name
    (``stockroom:<role>:<instance>:<pid>``, see app.db.engine.application_name)."""

    role: str
    instance: str
    process_pid: int | None
    what: str
    loses: str


def own_connection(application_name: str | None) -> OwnConnection | None:
    """Whether ``application_name`` names one of the app's own connections, and
    what terminating it would break."""
    if not application_name or not application_name.startswith("stockroom:"):
        return None
    parts = application_name.split(":")
    role = parts[1] if len(parts) > 1 else ""
    instance = ":".join(parts[2:-1]) if len(parts) > 3 else ""
    last = parts[-1] if len(parts) > 2 else ""
    what, loses = OWN_ROLES.get(role, (f"its {role or 'unnamed'} process", "its work will fail"))
    return OwnConnection(role, instance, int(last) if last.isdigit() else None, what, loses)


def wait_text(wait: Any) -> str:
    """What a lock wait is, in words: a row lock (``transactionid``/``tuple``) names
    who holds it and the row's table, a table lock (``relation``) its mode."""
    holders = ", ".join(f"pid {pid}" for pid in (wait.holders or []))
    table = wait.relation_name
    if wait.locktype == "transactionid":
        held = f"held by {holders}'s transaction" if holders else "held by another transaction"
        where = f" (row in {table})" if table else ""
        return f"waits for a row lock {held}{where}"
    if wait.locktype == "tuple":
        held = f"; {holders} is first in line for it" if holders else ""
        where = f"a row in {table}" if table else "the same row"
        return f"waits for a row lock on {where}{held}"
    if wait.locktype == "relation":
        held = f" held by {holders}" if holders else ""
        return f"waits for a table lock: {wait.mode} on {table}{held}"
    if wait.locktype:
        held = f" held by {holders}" if holders else ""
        return f"waits for a {wait.locktype} lock ({wait.mode}){held}"
    return "waits for a lock"


def may_cancel(state: str | None) -> bool:
    """Cancel stops a running statement: it does nothing to an idle session, and an
    idle transaction keeps its locks (terminate that)."""
    return state == "active"


@dataclass
class TreeRow:
    """One line of the blocking tree: a root blocker (depth 0) or a session it
    blocks, directly or through others."""

    pid: int
    depth: int
    session: Any  # the running_queries row, None for a session outside this database
    blocked_by: Sequence[int] = ()
    wait: str = ""
    blocks_total: int = 0
    cycle: bool = False
    children: list[int] = field(default_factory=list)

    @property
    def root(self) -> bool:
        return self.depth == 0


def blocking_tree(sessions: Iterable[Any], waits: Iterable[Any]) -> list[TreeRow]:
    """The blocking tree from ``pg_blocking_pids``: each root blocker (a blocker not
    itself blocked), with how many sessions it blocks in total, then those sessions
    beneath it (depth first). Roots that block the most come first. A session
    blocked by several shows once, under a blocker nearest the root; sessions that
    only block each other (a deadlock about to be broken) get a root marked
    ``cycle``."""
    by_pid = {s.pid: s for s in sessions}
    described = {w.waiting_pid: wait_text(w) for w in waits}
    blocked_by = {s.pid: list(s.blocked_by or []) for s in by_pid.values() if s.blocked_by}
    blocks: dict[int, list[int]] = {}
    for waiter, blockers in sorted(blocked_by.items()):
        for blocker in blockers:
            blocks.setdefault(blocker, []).append(waiter)

    def reach(root: int) -> list[tuple[int, int]]:
        # Breadth first: each session once, at its shortest distance from the root.
        seen, order, frontier = {root}, [(root, 0)], [root]
        depth = 0
        while frontier:
            depth += 1
            following = []
            for pid in frontier:
                for waiter in blocks.get(pid, []):
                    if waiter not in seen:
                        seen.add(waiter)
                        order.append((waiter, depth))
                        following.append(waiter)
            frontier = following
        return order

    roots = [pid for pid in blocks if pid not in blocked_by]
    reached = {pid for root in roots for pid, _ in reach(root)}
    cycles = []
    for pid in sorted(blocked_by):
        if pid not in reached:
            cycles.append(pid)
            reached.update(p for p, _ in reach(pid))
    groups = []
    for root in roots + cycles:
        order = reach(root)
        groups.append((root, order, root in cycles))

    def weight(group: tuple[int, list, bool]) -> tuple:
        root, order, _cycle = group
        age = getattr(by_pid.get(root), "transaction_seconds", None)
        return (-len(order), -(age or 0), root)

    rows: list[TreeRow] = []
    for root, order, cycle in sorted(groups, key=weight):
        depths = dict(order)
        # Depth first for display, children under the parent that reached them.
        parent_of: dict[int, int] = {}
        for pid, depth in order[1:]:
            parent_of[pid] = next(b for b in blocked_by[pid] if depths.get(b) == depth - 1)
        children: dict[int, list[int]] = {}
        for pid, _depth in order[1:]:
            children.setdefault(parent_of[pid], []).append(pid)

        stack = [(root, 0)]
        while stack:
            pid, depth = stack.pop()
            rows.append(
                TreeRow(
                    pid=pid,
                    depth=depth,
                    session=by_pid.get(pid),
                    blocked_by=blocked_by.get(pid, []),
                    wait=described.get(pid, ""),
                    blocks_total=len(order) - 1 if pid == root else 0,
                    cycle=cycle and pid == root,
                    children=children.get(pid, []),
                )
            )
            stack.extend((child, depth + 1) for child in reversed(children.get(pid, [])))
    return rows


def activity_page(session: DbSession) -> dict:
    """Sessions of this database, the blocking tree, the lock waits between them,
    and recent actions."""
    sessions = session.execute(query("app.dbconsole", "running_queries.sql")).all()
    lock_waits = session.execute(query("app.dbconsole", "lock_waits.sql")).all()
    return {
        "blockers": blocking_tree(sessions, lock_waits),
        "waits": {w.waiting_pid: wait_text(w) for w in lock_waits},
        "running": [s for s in sessions if s.state == "active"],
        "idle_in_transaction": [
            s for s in sessions if (s.state or "").startswith("idle in transaction")
        ],
        "others": [
            s
            for s in sessions
            if s.state not in ("active",) and not (s.state or "").startswith("idle in transaction")
        ],
        "lock_waits": lock_waits,
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
    if action == "cancel" and not may_cancel(row.state):
        return (
            "refused",
            f"pid {pid} is {row.state or 'not running a statement'}: there is no running query"
            " to cancel (terminate the session to end it).",
            row,
        )
    if not row.signalled:
        return "failed", "The server did not signal the session (it may just have ended).", row
    return "done", "", row


class ActivityView(SecureBaseView):
    """The activity page, and cancel/terminate with a confirmation step."""

    @expose("/")
    def index(self):
        return self.render(
            "admin/db/activity.html",
            verbs=VERBS,
            duration=duration_text,
            may_cancel=may_cancel,
            sql_tags=tags_of,
            without_comments=strip_comments,
            **activity_page(db.session),
        )

    @expose("/<int:pid>/<action>", methods=("GET",))
    def confirm(self, pid: int, action: str):
        """What the operator is about to stop, and the form that stops it."""
        if action not in ACTIONS:
            abort(404)
        if not 0 < pid <= MAX_PID:
            flash(f"No session has pid {pid}.", "error")
            return redirect(url_for(".index"))
        backend = db.session.execute(query("app.dbconsole", "backend.sql"), {"pid": pid}).first()
        reason = refusal(backend)
        if backend is None or reason:
            flash(reason or "No such session any more.", "error")
            return redirect(url_for(".index"))
        return self.render(
            "admin/db/signal.html",
            backend=backend,
            action=action,
            verb=VERBS[action],
            verbs=VERBS,
            duration=duration_text,
            cancellable=may_cancel(backend.state),
            own=own_connection(backend.application_name),
        )

    @expose("/<int:pid>/<action>", methods=("POST",))
    def signal(self, pid: int, action: str):
        """Cancel or terminate, then audit and log what happened."""
        if action not in ACTIONS:
            abort(404)
        if not 0 < pid <= MAX_PID:
            flash(f"No session has pid {pid}.", "error")
            return redirect(url_for(".index"))
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
