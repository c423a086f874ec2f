"""/admin/db/explain/: EXPLAIN any one SELECT an operator types.

The statement runs as ``EXPLAIN (FORMAT JSON[, ANALYZE, BUFFERS])`` in a savepoint of
the request's own transaction (so the console's statement capture labels it as the
console's, not the app's), made ``READ ONLY`` with a short ``statement_timeout`` and
``lock_timeout`` set local to it, and always rolled back. The read-only transaction is
the guard; :func:`refusal` only gives a friendly answer first to what it would refuse
(or what is not one SELECT): several statements, writes, data-modifying CTEs, locking
clauses, ``SELECT INTO``, ``EXPLAIN`` itself. A server error (syntax, unknown table,
timeout, a write the check missed) is shown as the form's error.
"""

from __future__ import annotations

import re

import psycopg
from flask import current_app, request
from flask_admin import expose
from flask_wtf import FlaskForm
from sqlalchemy.exc import DBAPIError
from wtforms import BooleanField, TextAreaField
from wtforms.validators import InputRequired, Length

from app.auth.guards import SecureBaseView
from app.db.errors import first_line
from app.db.sql import query
from app.db.transactions import DbSession, sqlstate
from app.extensions import db
from app.workload import explain_plan

DEFAULT_TIMEOUT_MS = 5000
MAX_LOCK_TIMEOUT_MS = 1000
MAX_STATEMENT = 20_000
QUERY_CANCELED = "57014"
LOCK_NOT_AVAILABLE = "55P03"

_WORD = re.compile(r"[A-Za-z_]+")
_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z_0-9]*)?\$")
_LOCKING = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+UPDATE|UPDATE|KEY\s+SHARE|SHARE)\b", re.I)
_DATA_CHANGING = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE)\b", re.I)
_INTO = re.compile(r"\bINTO\b", re.I)
# Functions whose effect outlives the rolled-back savepoint (a session's advisory lock
# stays on a pooled connection; a signal cannot be taken back), or end the console's
# own connection: the read-only transaction does not stop them.
_OUTSIDE = re.compile(
    r"\b(pg_(?:terminate|cancel)_backend|pg_advisory_(?:xact_)?lock\w*|pg_try_advisory\w*"
    r"|pg_reload_conf|pg_rotate_logfile|pg_log_backend_memory_contexts|pg_notify"
    r"|dblink\w*)\s*\(",
    re.I,
)


def _quoted_end(text: str, start: int, quote: str, backslashes: bool) -> int:
    """Where the quoted text opened at ``start`` ends (past its closing quote); a
    doubled quote is one character, and with ``backslashes`` a backslash escapes."""
    i = start + 1
    while i < len(text):
        if backslashes and text[i] == "\\":
            i += 2
        elif text[i] == quote:
            if text.startswith(quote * 2, i):
                i += 2
            else:
                return i + 1
        else:
            i += 1
    return len(text)


def skeleton(statement: str) -> str:
    """The statement's keywords and punctuation only: comments (block comments nest),
    string constants (standard, E'', dollar-quoted) and quoted identifiers each a
    space, so a ``;`` or ``DELETE`` inside them means nothing."""
    text, out, i = statement, [], 0
    while i < len(text):
        char = text[i]
        after_word = i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_$")
        if text.startswith("--", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < len(text) and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif char in "eE" and text.startswith("'", i + 1) and not after_word:
            i = _quoted_end(text, i + 1, "'", backslashes=True)
        elif char in "'\"":
            i = _quoted_end(text, i, char, backslashes=False)
        elif char == "$" and not after_word and (tag := _DOLLAR_TAG.match(text, i)):
            end = text.find(tag.group(0), tag.end())
            i = len(text) if end < 0 else end + len(tag.group(0))
        else:
            out.append(char)
            i += 1
            continue
        out.append(" ")
    return "".join(out)


def refusal(statement: str) -> str | None:
    """Why the box will not run ``statement``, or None for one read-only SELECT."""
    if "\x00" in statement:
        return "The statement contains a NUL character, which PostgreSQL refuses."
    bare = skeleton(statement).strip()
    if bare.endswith(";"):
        bare = bare[:-1].rstrip()
    if not bare:
        return "Type one SELECT statement."
    if ";" in bare:
        return "One statement at a time: this contains several (separated by ';')."
    first = _WORD.search(bare.lstrip("( \t\r\n"))
    verb = first.group(0).upper() if first else ""
    if verb == "EXPLAIN":
        return "Type the statement without EXPLAIN: the box adds EXPLAIN itself."
    if verb not in ("SELECT", "WITH"):
        return f"Only a SELECT (or WITH ... SELECT) can be explained here, not {verb or 'this'}."
    if _LOCKING.search(bare):
        return "Locking clauses (FOR UPDATE / FOR SHARE) take row locks: refused."
    if found := _DATA_CHANGING.search(bare):
        return (
            f"This statement changes data ({found.group(1).upper()}, in a WITH clause "
            f"or elsewhere): only read-only statements can be explained here."
        )
    if found := _OUTSIDE.search(bare):
        return f"{found.group(1)}() acts outside the transaction the box rolls back: refused."
    if _INTO.search(bare):
        return "SELECT ... INTO creates a table: only read-only statements can be explained here."
    return None


class ExplainFailed(Exception):
    """The server refused or stopped the statement; the message says why."""


def timeout_ms() -> int:
    """The box's statement timeout (``DB_EXPLAIN_TIMEOUT_MS``, 5 s by default)."""
    return int(current_app.config.get("DB_EXPLAIN_TIMEOUT_MS", DEFAULT_TIMEOUT_MS))


def run_explain(
    session: DbSession, statement: str, *, analyze: bool, limit_ms: int
) -> explain_plan.Plan:
    """EXPLAIN ``statement`` (already checked by :func:`refusal`) in a read-only
    savepoint under ``limit_ms``, rolled back whatever happens; :class:`ExplainFailed`
    with the server's message when it fails."""
    options = "FORMAT JSON, ANALYZE, BUFFERS" if analyze else "FORMAT JSON"
    savepoint = session.begin_nested()
    try:
        session.execute(query("app.workload", "explain_box_read_only.sql"))
        session.execute(
            query("app.workload", "explain_box_limits.sql"),
            {
                "statement_timeout": str(limit_ms),
                "lock_timeout": str(min(limit_ms, MAX_LOCK_TIMEOUT_MS)),
            },
        )
        # The typed text is the statement to explain: it cannot be a bound parameter.
        # It runs on the driver's cursor without parameters, so a '%' in it is just a
        # character, and in the extended protocol, which takes one statement only.
        cursor = session.connection().connection.cursor()
        try:
            cursor.execute(f"EXPLAIN ({options}) {statement}")
            row = cursor.fetchone()
        finally:
            cursor.close()
    # SQLAlchemy's (the settings) or the driver's own (the EXPLAIN, on its cursor).
    except (DBAPIError, psycopg.Error) as error:
        raise ExplainFailed(_explain_error(error, limit_ms)) from error
    finally:
        savepoint.rollback()
    if row is None:
        raise ExplainFailed("The server returned no plan.")
    return explain_plan.parse(row[0])


def _explain_error(error: BaseException, limit_ms: int) -> str:
    code = getattr(error, "sqlstate", None) or sqlstate(error)
    message = first_line(error)
    if code == QUERY_CANCELED:
        return f"Stopped at the {limit_ms / 1000:g} s limit (statement_timeout): {message}"
    if code == LOCK_NOT_AVAILABLE:
        return f"A table it reads is locked by another session: {message}"
    return f"The server refused it: {message}"


class ExplainForm(FlaskForm):
    """One statement, and whether to run it (ANALYZE)."""

    statement = TextAreaField(
        "Statement",
        validators=[InputRequired(), Length(max=MAX_STATEMENT)],
        render_kw={"rows": 8, "spellcheck": "false"},
    )
    analyze = BooleanField("ANALYZE: run it and show actual rows and times (with BUFFERS)")


class ExplainBoxView(SecureBaseView):
    """The EXPLAIN box."""

    @expose("/", methods=("GET", "POST"))
    def index(self):
        form = ExplainForm()
        plan = None
        status = 200
        limit_ms = timeout_ms()
        if request.method == "POST":
            reason = None
            if not form.validate_on_submit() or (reason := refusal(form.statement.data or "")):
                status = 422
            else:
                try:
                    plan = run_explain(
                        db.session,
                        form.statement.data or "",
                        analyze=bool(form.analyze.data),
                        limit_ms=limit_ms,
                    )
                except ExplainFailed as failed:
                    reason, status = str(failed), 422
            if reason:
                form.statement.errors = [*form.statement.errors, reason]
        page = self.render(
            "admin/db/explain_box.html",
            form=form,
            plan=plan,
            limit_ms=limit_ms,
            rows_text=explain_plan.rows_text,
        )
        return page, status
