"""The synchronous standby's fallback, run by the jobs process.

With a synchronous standby (``flask devdb replica start --sync``), PostgreSQL makes
every commit wait until the standby has flushed it: while the standby is down,
writes wait. That is the default (``stockroom.sync_fallback = 'wait'``): no
acknowledged order can be lost with the primary. An operator who prefers the shop
to keep selling chooses ``--if-standby-down async``: then this watcher, once no
standby has been in sync for ``SYNC_FALLBACK_SECONDS``, empties
``synchronous_standby_names`` (keeping the old value in
``stockroom.sync_standby_names_saved``) and reloads, which releases the waiting
commits at once; orders committed while degraded may be lost if the primary dies
before the standby is back. When a standby streams again (caught up), the saved
names are restored. ``ALTER SYSTEM`` needs a superuser or ``GRANT ALTER SYSTEM ON
PARAMETER`` for the two settings; without it the watcher logs why and changes
nothing. Every jobs process may run one: each change is idempotent.
"""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask
from psycopg import sql
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from app.db.engine import direct_engine
from app.db.errors import first_line
from app.db.sql import query

log = logging.getLogger(__name__)
NAMES = "synchronous_standby_names"
SAVED = "stockroom.sync_standby_names_saved"
ASYNC = "async"


def _alter(conn: Connection, settings: dict[str, str | None]) -> None:
    """``ALTER SYSTEM`` each setting (None: reset) and reload. The values are the
    server's own settings, never input; ALTER SYSTEM takes no bound parameters."""
    raw = conn.connection.dbapi_connection
    assert raw is not None
    for name, value in settings.items():
        statement = (
            sql.SQL("ALTER SYSTEM RESET {}").format(sql.SQL(name))
            if value is None
            else sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.SQL(name), sql.Literal(value))
        )
        raw.execute(statement)
    raw.execute("SELECT pg_reload_conf()")


def check(conn: Connection, missing_since: float | None, grace: float, now: float) -> float | None:
    """One look at the primary: degrade or restore if due; when no standby was
    first seen out of sync (None: one is in sync, or nothing to watch)."""
    row = conn.execute(query("app.jobs", "sync_fallback_state.sql")).one()
    if row.in_recovery or row.fallback != ASYNC:
        return None
    if row.standby_names and row.in_sync == 0:
        missing_since = missing_since or now
        if now - missing_since >= grace:
            log.warning(
                "no synchronous standby for %.0f s: commits no longer wait for %r "
                "(stockroom.sync_fallback = async)",
                now - missing_since,
                row.standby_names,
            )
            _alter(conn, {SAVED: row.standby_names, NAMES: ""})
        return missing_since
    if not row.standby_names and row.saved_names and row.streaming > 0:
        log.warning("a standby streams again: commits wait for %r again", row.saved_names)
        _alter(conn, {NAMES: row.saved_names, SAVED: None})
    return None


class SyncFallbackWatcher(threading.Thread):
    """Looks every ``SYNC_WATCH_MS`` (see :func:`check`)."""

    def __init__(self, app: Flask) -> None:
        super().__init__(name="stockroom-sync-fallback", daemon=True)
        self.app = app
        self.interval = app.config["SYNC_WATCH_MS"] / 1000
        self.grace = float(app.config["SYNC_FALLBACK_SECONDS"])
        self.stopping = threading.Event()
        self.missing_since: float | None = None

    def stop(self) -> None:
        """Stop after the look in hand."""
        self.stopping.set()
        self.join(timeout=10)

    def run(self) -> None:
        said = None
        with self.app.app_context():
            while not self.stopping.wait(self.interval):
                try:
                    with direct_engine().connect() as conn:
                        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                        self.missing_since = check(
                            conn, self.missing_since, self.grace, time.monotonic()
                        )
                    said = None
                except SQLAlchemyError as error:  # the primary is away, or no privilege
                    if first_line(error) != said:
                        said = first_line(error)
                        log.warning("sync fallback watcher: %s", said)
